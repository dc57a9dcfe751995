"""Cutting a video into searchable segments: its shots (cuts found by the shot detector; a
video with no cut is one shot) cut into windows of at most ``WINDOW`` seconds, and the timed
text (subtitle cues, heard words) that belongs to each."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from xmodal.errors import MissingDependencyError

#: the longest segment: a long shot is cut into equal windows no longer than this
WINDOW = 10.0
SUBTITLE_EXTENSIONS = frozenset({".srt", ".vtt"})
#: as much of a subtitle file as is read
_SUBTITLE_BYTES = 4_000_000


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    #: the shot it lies in, from 0
    shot: int


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    text: str


def shot_windows(cuts: Sequence[float], duration: float) -> list[Window]:
    """Shots between ``cuts`` over ``0..duration``, each cut into equal windows of at most
    ``WINDOW`` seconds."""
    edges = [0.0, *sorted(c for c in cuts if 0.0 < c < duration), duration]
    out: list[Window] = []
    for shot, (a, b) in enumerate(itertools.pairwise(edges)):
        parts = max(1, math.ceil((b - a) / WINDOW - 1e-9))
        size = (b - a) / parts
        out.extend(
            Window(round(a + n * size, 3), round(a + (n + 1) * size, 3), shot) for n in range(parts)
        )
    return out


def subtitle_sidecars(path: str, names: set[str]) -> tuple[str, ...]:
    """``movie.srt``, ``movie.en.vtt`` and the like beside ``movie.mp4``."""
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    found = [
        os.path.join(folder, n)
        for n in sorted(names)
        if os.path.splitext(n)[1].lower() in SUBTITLE_EXTENSIONS
        and (os.path.splitext(n)[0] == stem or os.path.splitext(n)[0].startswith(stem + "."))
    ]
    return tuple(found)


def parse_subtitles(data: bytes, ext: str) -> list[Cue]:
    """The cues of an SRT or WebVTT file (a file that does not parse has none)."""
    try:
        import pysubs2
    except ImportError:
        raise MissingDependencyError("reading subtitles", "video") from None
    text = data.decode("utf-8-sig", "replace")
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=ext.lstrip(".").lower())
    except Exception:  # a malformed sidecar costs its cues, not the video
        return []
    return [
        Cue(e.start / 1000.0, e.end / 1000.0, " ".join(e.plaintext.split()))
        for e in subs
        if e.plaintext.strip() and e.end > e.start
    ]


def overlapping(start: float, end: float, cues: Sequence[Cue]) -> list[Cue]:
    """Cues that overlap ``start..end`` by more than a tenth of a second or of the cue."""
    out = []
    for c in cues:
        shared = min(end, c.end) - max(start, c.start)
        if shared > min(0.1, (c.end - c.start) / 2):
            out.append(c)
    return out
