"""Videos made on the spot with PyAV from drawn pictures, so moments have exact ground truth:
each shot a different shape and colour, zooming and panning so no two frames are the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

#: (shape, colour, background) of each shot, in order
SHOTS = (
    ("circle", (220, 30, 30), (250, 250, 240)),
    ("square", (30, 60, 220), (40, 40, 40)),
    ("triangle", (30, 180, 60), (240, 220, 120)),
    ("star", (250, 200, 0), (20, 40, 120)),
)


@dataclass(frozen=True, slots=True)
class Shot:
    start: float
    end: float
    shape: str


def drawing(
    shape: str,
    colour: tuple[int, int, int],
    background: tuple[int, int, int],
    size: tuple[int, int],
    progress: float = 0.5,
) -> Image.Image:
    """One frame of a shot: the shape grows and drifts as ``progress`` goes 0..1."""
    w, h = size
    img = Image.new("RGB", size, background)
    d = ImageDraw.Draw(img)
    r = min(w, h) * (0.22 + 0.12 * progress)
    cx, cy = w * (0.35 + 0.3 * progress), h * 0.5
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        d.ellipse(box, fill=colour)
    elif shape == "square":
        d.rectangle(box, fill=colour)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    else:
        pts = []
        for k in range(10):
            rr = r if k % 2 == 0 else r * 0.45
            a = np.pi / 2 + k * np.pi / 5
            pts.append((cx + rr * np.cos(a), cy - rr * np.sin(a)))
        d.polygon(pts, fill=colour)
    d.line((0, h - 4, w * progress, h - 4), fill=(128, 128, 128), width=3)
    return img


def make_video(
    path: Path,
    durations: Sequence[float],
    size: tuple[int, int] = (160, 96),
    fps: int = 10,
    shots: Sequence[tuple] = SHOTS,
    audio: bool = False,
    codec: str = "libx264",
    rotation: int = 0,
) -> list[Shot]:
    """Write a video whose n-th shot shows ``shots[n % len(shots)]`` for ``durations[n]``
    seconds; the shots' true times. ``rotation`` (degrees counterclockwise) is written as
    the display matrix phones write, not into the pixels."""
    import av

    out: list[Shot] = []
    with av.open(str(path), "w") as c:
        v = c.add_stream(codec, rate=fps)
        v.width, v.height = size
        v.pix_fmt = "yuv420p"
        if rotation:
            v.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=16000) if audio else None
        t = 0.0
        frame_no = 0
        for n, dur in enumerate(durations):
            shape, colour, bg = shots[n % len(shots)]
            count = max(1, round(dur * fps))
            for k in range(count):
                img = drawing(shape, colour, bg, size, k / max(1, count - 1))
                f = av.VideoFrame.from_image(img)
                f.pts = frame_no
                frame_no += 1
                for p in v.encode(f):
                    c.mux(p)
            out.append(Shot(round(t, 3), round(t + count / fps, 3), shape))
            t += count / fps
        for p in v.encode():
            c.mux(p)
        if a is not None:
            _tone(c, a, t)
    return out


def _tone(c: object, a: object, seconds: float) -> None:
    import av

    rate = 16000
    samples = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(
        np.float32
    )
    for lo in range(0, len(samples), 1024):
        block = samples[lo : lo + 1024].reshape(1, -1)
        fr = av.AudioFrame.from_ndarray(block, format="flt", layout="mono")
        fr.sample_rate = rate
        fr.pts = lo
        for p in a.encode(fr):  # type: ignore[attr-defined]
            c.mux(p)  # type: ignore[attr-defined]
    for p in a.encode():  # type: ignore[attr-defined]
        c.mux(p)  # type: ignore[attr-defined]


def make_audio_only(path: Path, seconds: float = 2.0) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as c:
        a = c.add_stream("aac", rate=16000)
        _tone(c, a, seconds)


def write_srt(path: Path, cues: Sequence[tuple[float, float, str]]) -> None:
    def ts(x: float) -> str:
        ms = round(x * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [f"{n}\n{ts(a)} --> {ts(b)}\n{text}\n" for n, (a, b, text) in enumerate(cues, 1)]
    path.write_text("\n".join(blocks), encoding="utf-8")


def cut_clip(source: Path, target: Path, start: float, end: float) -> None:
    """Frames of ``source`` shown from ``start`` to ``end`` seconds, encoded again as a clip
    of their own (its time starting at 0), as an editor cuts one out."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream = src.streams.video[0]
        rate = stream.average_rate or 10
        v = out.add_stream("libx264", rate=rate)
        v.width, v.height = stream.codec_context.width, stream.codec_context.height
        v.pix_fmt = "yuv420p"
        n = 0
        for frame in src.decode(stream):
            if frame.time is None or not start - 1e-3 <= frame.time < end - 1e-3:
                continue
            f = av.VideoFrame.from_image(frame.to_image())
            f.pts = n
            n += 1
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
