"""Decoding audio files into 16 kHz mono, streamed in blocks and within the limits.

libsndfile (``soundfile``) reads WAV, FLAC, OGG/Vorbis/Opus and MP3 at any bit depth; FFmpeg
(PyAV) reads the rest (M4A/AAC, and anything libsndfile refuses). Both are read block by
block and resampled as they go, so a long recording is never held as float32 at its own
rate: what is kept is 16-bit samples at 16 kHz, a fifth of a 44.1 kHz stereo float32 copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from xmodal.errors import DecodeError, MissingDependencyError
from xmodal.media.files import checked_size
from xmodal.media.limits import DecodeLimits

#: what every audio encoder and the speech recogniser read
SAMPLE_RATE = 16_000
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac"})
#: seconds decoded per block
_BLOCK_SECONDS = 20
_INT16 = 32767.0


@dataclass(frozen=True, slots=True)
class AudioClip:
    """A decoded recording: 16-bit mono samples at ``SAMPLE_RATE``, and what it was."""

    samples: np.ndarray
    source_rate: int
    channels: int
    format: str

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def span(self, start: float, end: float) -> np.ndarray:
        """Samples from ``start`` to ``end`` seconds as float32 in -1..1."""
        lo = max(0, round(start * SAMPLE_RATE))
        hi = min(len(self.samples), round(end * SAMPLE_RATE))
        return self.samples[lo:hi].astype(np.float32) / _INT16


def _require() -> None:
    try:
        import av  # noqa: F401
        import soundfile  # noqa: F401
        import soxr  # noqa: F401
    except ImportError:
        raise MissingDependencyError("reading audio", "audio") from None


def _to_int16(block: np.ndarray) -> np.ndarray:
    return np.clip(np.round(block * _INT16), -_INT16 - 1, _INT16).astype(np.int16)


def _too_long(seconds: float, limits: DecodeLimits) -> DecodeError:
    return DecodeError(
        f"audio longer than the limit of {limits.max_audio_seconds:.0f} s ({seconds:.0f} s)"
    )


class _Collector:
    """Blocks of 16 kHz samples, refused once they pass the duration limit (a header may
    understate the length)."""

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits
        self.parts: list[np.ndarray] = []
        self.count = 0

    def add(self, block: np.ndarray) -> None:
        if not block.size:
            return
        self.parts.append(_to_int16(block))
        self.count += len(block)
        if self.count > self.limits.max_audio_seconds * SAMPLE_RATE:
            raise _too_long(self.count / SAMPLE_RATE, self.limits)

    def samples(self) -> np.ndarray:
        if not self.count:
            raise DecodeError("no audio samples in file")
        return np.concatenate(self.parts)


def _soundfile_blocks(f: object, rate: int, limits: DecodeLimits) -> Iterator[np.ndarray]:
    import soxr

    stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32")
    blocks = f.blocks(blocksize=rate * _BLOCK_SECONDS, dtype="float32", always_2d=True)  # type: ignore[attr-defined]
    for block in blocks:
        yield stream.resample_chunk(block.mean(axis=1, dtype=np.float32))
    yield stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def _decode_soundfile(path: str, limits: DecodeLimits) -> AudioClip | None:
    """The clip, or None when libsndfile does not know the format."""
    import soundfile as sf

    try:
        f = sf.SoundFile(path)
    except sf.LibsndfileError:
        return None
    with f:
        if f.samplerate <= 0 or f.channels <= 0:
            raise DecodeError("audio header is corrupt (no sample rate or channels)")
        if f.frames > 0 and f.frames / f.samplerate > limits.max_audio_seconds:
            raise _too_long(f.frames / f.samplerate, limits)
        out = _Collector(limits)
        try:
            for block in _soundfile_blocks(f, f.samplerate, limits):
                out.add(block)
        except sf.LibsndfileError as e:
            if not out.count:
                raise DecodeError(f"corrupt audio: {e}") from None
        return AudioClip(out.samples(), f.samplerate, f.channels, str(f.format))


def _decode_av(path: str, limits: DecodeLimits) -> AudioClip:
    import av

    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise DecodeError(f"not a readable audio file ({type(e).__name__})") from None
    with container:
        if not container.streams.audio:
            raise DecodeError("no audio stream in file")
        stream = container.streams.audio[0]
        if container.duration and container.duration / 1e6 > limits.max_audio_seconds:
            raise _too_long(container.duration / 1e6, limits)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        out = _Collector(limits)
        try:
            for frame in container.decode(stream):
                for res in resampler.resample(frame):
                    out.add(res.to_ndarray().reshape(-1))
            for res in resampler.resample(None):
                out.add(res.to_ndarray().reshape(-1))
        except av.error.FFmpegError as e:
            # a truncated file keeps what decoded before the damage
            if not out.count:
                raise DecodeError(f"corrupt audio: {e}") from None
        rate = stream.codec_context.sample_rate or SAMPLE_RATE
        channels = stream.codec_context.channels or 1
        return AudioClip(out.samples(), int(rate), int(channels), container.format.name)


def decode_audio(path: str | os.PathLike[str], limits: DecodeLimits) -> AudioClip:
    """Decode ``path`` to 16 kHz mono. Raises ``DecodeError`` for an empty, oversized,
    overlong, corrupt or non-audio file."""
    _require()
    p = os.fspath(path)
    checked_size(p, limits.max_audio_bytes)
    clip = _decode_soundfile(p, limits)
    return clip if clip is not None else _decode_av(p, limits)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float samples (-1..1) as 16-bit WAV; for tests, benchmarks and exports."""
    import soundfile as sf

    sf.write(os.fspath(path), np.asarray(samples, dtype=np.float32), rate, subtype="PCM_16")
