"""Cutting a recording into searchable spans: speech found by a voice-activity detector
(Silero, the ONNX model that faster-whisper ships), merged across short pauses and cut to at
most ``MAX_SPEECH`` seconds (what one Whisper window reads), and fixed overlapping windows
over what is not speech, so sounds between and around the words are searchable too."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xmodal.errors import MissingDependencyError
from xmodal.media.audio import SAMPLE_RATE, AudioClip

#: the longest speech span; Whisper reads 30 s at a time
MAX_SPEECH = 28.0
#: speech regions closer than this are one span
MERGE_GAP = 0.8
#: windows over non-speech audio
WINDOW = 10.0
HOP = 5.0
#: a non-speech stretch shorter than this gets no window of its own
MIN_GAP = 2.0
#: windows quieter than this (RMS of -1..1 samples) are left out, unless nothing else is left
_SILENT_RMS = 1e-4
#: the detector reads this many seconds at once, so a long file is never whole in float32
_VAD_BLOCK = 600


@dataclass(frozen=True, slots=True)
class Span:
    start: float
    end: float
    speech: bool


def _vad_options() -> object:
    try:
        from faster_whisper.vad import VadOptions
    except ImportError:
        raise MissingDependencyError("finding speech in audio", "audio") from None
    return VadOptions(min_silence_duration_ms=300, speech_pad_ms=150, min_speech_duration_ms=200)


def speech_regions(clip: AudioClip) -> list[tuple[float, float]]:
    """(start, end) seconds of speech, in blocks of ``_VAD_BLOCK`` seconds."""
    from faster_whisper.vad import get_speech_timestamps

    options = _vad_options()
    out: list[tuple[float, float]] = []
    step = _VAD_BLOCK * SAMPLE_RATE
    for lo in range(0, len(clip.samples), step):
        block = clip.samples[lo : lo + step].astype(np.float32) / 32767.0
        for ts in get_speech_timestamps(block, options, sampling_rate=SAMPLE_RATE):
            out.append(((lo + ts["start"]) / SAMPLE_RATE, (lo + ts["end"]) / SAMPLE_RATE))
    return out


def merge_speech(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Regions joined across pauses under ``MERGE_GAP`` and cut into equal parts of at most
    ``MAX_SPEECH`` seconds."""
    merged: list[list[float]] = []
    for start, end in sorted(regions):
        if merged and start - merged[-1][1] < MERGE_GAP and end - merged[-1][0] <= MAX_SPEECH:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[tuple[float, float]] = []
    for start, end in merged:
        parts = max(1, math.ceil((end - start) / MAX_SPEECH))
        size = (end - start) / parts
        out.extend((start + n * size, start + (n + 1) * size) for n in range(parts))
    return out


def windows(start: float, end: float) -> list[tuple[float, float]]:
    """Overlapping windows covering ``start..end``; one window when it is short."""
    if end - start <= WINDOW:
        return [(start, end)]
    count = math.ceil((end - start - WINDOW) / HOP) + 1
    return [(start + n * HOP, min(end, start + n * HOP + WINDOW)) for n in range(count)]


def _rms(clip: AudioClip, start: float, end: float) -> float:
    x = clip.span(start, end)
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def segment_audio(clip: AudioClip) -> list[Span]:
    """The spans of ``clip`` in time order: speech, and windows over the rest."""
    speech = merge_speech(speech_regions(clip))
    spans = [Span(s, e, True) for s, e in speech]
    edges = [0.0, *(x for s, e in speech for x in (s, e)), clip.duration]
    quiet: list[Span] = []
    for gap_start, gap_end in zip(edges[::2], edges[1::2], strict=True):
        if gap_end - gap_start < (MIN_GAP if speech else 0.0) or gap_end <= gap_start:
            continue
        for s, e in windows(gap_start, gap_end):
            quiet.append(Span(s, e, False))
    loud = [w for w in quiet if _rms(clip, w.start, w.end) >= _SILENT_RMS]
    spans.extend(loud)
    if not spans:
        spans = quiet[:1] or [Span(0.0, clip.duration, False)]
    return sorted(spans, key=lambda s: (s.start, s.end))
