"""``audio-classic``: what a sound is like, from classical descriptors computed by librosa.

Per clip: the log-mel spectrum (64 bands: mean and spread over time), MFCCs (mean, spread,
and the spread of their deltas), spectral contrast and chroma (mean and spread). Each block
is brought to unit length before they are joined, so that none dominates by its units, and
the log-mel mean loses its overall level, so a quiet and a loud take of one sound match.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence

import numpy as np

from xmodal.encoders.base import Encoder, EncoderSpec, l2_normalize
from xmodal.encoders.registry import EncoderInfo, register
from xmodal.errors import MissingDependencyError, UsageError
from xmodal.records import Modality

_SR = 16_000
_N_FFT = 512
_HOP = 160
_N_MELS = 64
_N_MFCC = 20
_CONTRAST_BANDS = 5
#: a clip shorter than this is padded with silence (the descriptors need a few frames)
_MIN_SAMPLES = _N_FFT * 2
#: (block, weight): how much each descriptor counts in the cosine
_BLOCKS = (
    ("logmel_mean", 1.0),
    ("logmel_std", 0.7),
    ("mfcc_mean", 1.0),
    ("mfcc_std", 0.7),
    ("mfcc_delta_std", 0.5),
    ("contrast", 0.7),
    ("chroma", 0.5),
)
DIM = 2 * _N_MELS + 3 * _N_MFCC + 2 * (_CONTRAST_BANDS + 1) + 2 * 12


def _available() -> tuple[bool, str]:
    if importlib.util.find_spec("librosa") is None:
        return False, "needs pip install 'xmodal[audio]'"
    return True, f"no weights (librosa {importlib.metadata.version('librosa')})"


def _unit(x: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(x))
    return x / n if n > 0 else x


def describe_clip(y: np.ndarray) -> np.ndarray:
    """The descriptor of one float32 16 kHz clip, before the final normalisation."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if len(y) < _MIN_SAMPLES:
        y = np.pad(y, (0, _MIN_SAMPLES - len(y)))
    power = np.abs(librosa.stft(y, n_fft=_N_FFT, hop_length=_HOP)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=_SR, n_mels=_N_MELS)
    logmel = librosa.power_to_db(mel, ref=1.0, top_db=None, amin=1e-10)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=_N_MFCC)
    delta = librosa.feature.delta(mfcc, width=3, mode="nearest")
    contrast = librosa.feature.spectral_contrast(
        S=np.sqrt(power), sr=_SR, n_fft=_N_FFT, n_bands=_CONTRAST_BANDS, fmin=200.0
    )
    chroma = librosa.feature.chroma_stft(S=power, sr=_SR, n_fft=_N_FFT, tuning=0.0)
    lm = logmel.mean(axis=1)
    blocks = {
        "logmel_mean": lm - lm.mean(),
        "logmel_std": logmel.std(axis=1),
        # the first coefficient is the level again
        "mfcc_mean": np.concatenate([[0.0], mfcc.mean(axis=1)[1:]]),
        "mfcc_std": mfcc.std(axis=1),
        "mfcc_delta_std": delta.std(axis=1),
        "contrast": np.concatenate([contrast.mean(axis=1), contrast.std(axis=1)]),
        "chroma": np.concatenate([chroma.mean(axis=1), chroma.std(axis=1)]),
    }
    return np.concatenate([w * _unit(blocks[name].astype(np.float64)) for name, w in _BLOCKS])


class AudioClassic(Encoder):
    batch_size = 16

    def __init__(self) -> None:
        try:
            version = importlib.metadata.version("librosa")
        except importlib.metadata.PackageNotFoundError:
            raise MissingDependencyError("audio-classic", "audio") from None
        self._spec = EncoderSpec(
            name="audio-classic",
            weights=f"none (librosa {version})",
            dim=DIM,
            modalities=frozenset({Modality.AUDIO}),
            preprocessing={
                "sr": _SR,
                "n_fft": _N_FFT,
                "hop": _HOP,
                "n_mels": _N_MELS,
                "n_mfcc": _N_MFCC,
                "blocks": [list(b) for b in _BLOCKS],
            },
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def encode_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        if not clips:
            return np.zeros((0, DIM), dtype=np.float32)
        return l2_normalize(np.stack([describe_clip(c) for c in clips]))


@register(
    EncoderInfo(
        family="audio-classic",
        description="what a sound is like: log-mel, MFCC, spectral contrast and chroma "
        "statistics (librosa); sound-to-sound search",
        modalities=frozenset({Modality.AUDIO}),
        dim=DIM,
        languages=(),
        size="no weights",
        available=_available,
    )
)
def _make(arg: str | None) -> Encoder:
    if arg is not None:
        raise UsageError(f"audio-classic takes no argument (got 'audio-classic:{arg}')")
    return AudioClassic()
