"""Videos made on the spot with PyAV from drawn pictures, so moments have exact ground truth:
each shot a different shape and colour, zooming and panning so no two frames are the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
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
    keyframe_every: int | None = None,
    soundtrack: np.ndarray | None = None,
) -> list[Shot]:
    """Write a video whose n-th shot shows ``shots[n % len(shots)]`` for ``durations[n]``
    seconds; the shots' true times. ``rotation`` (degrees counterclockwise) is written as
    the display matrix phones write, not into the pixels; ``keyframe_every`` frames a
    keyframe (the encoder's default otherwise). ``audio`` adds a tone as the soundtrack,
    ``soundtrack`` these samples (16 kHz mono) instead."""
    import av

    out: list[Shot] = []
    with av.open(str(path), "w") as c:
        options = {"g": str(keyframe_every)} if keyframe_every else None
        v = c.add_stream(codec, rate=fps, options=options)
        v.width, v.height = size
        v.pix_fmt = "yuv420p"
        if rotation:
            v.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=16000) if audio or soundtrack is not None else None
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
            _sound(c, a, _tone_samples(t) if soundtrack is None else soundtrack)
    return out


def _tone_samples(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _sound(c: object, a: object, samples: np.ndarray) -> None:
    import av

    rate = 16000
    samples = np.asarray(samples, dtype=np.float32)
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
        _sound(c, a, _tone_samples(seconds))


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


def make_vfr_video(path: Path, shots: Sequence[tuple[float, int]]) -> list[Shot]:
    """A video of variable frame rate: shot n lasts ``shots[n][0]`` seconds at
    ``shots[n][1]`` frames a second, every frame stamped in milliseconds."""
    import av

    size = (64, 48)
    out: list[Shot] = []
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height = size
        v.pix_fmt = "yuv420p"
        v.codec_context.time_base = Fraction(1, 1000)
        t = 0.0
        for n, (seconds, fps) in enumerate(shots):
            shape, colour, bg = SHOTS[n % len(SHOTS)]
            count = round(seconds * fps)
            for k in range(count):
                f = av.VideoFrame.from_image(
                    drawing(shape, colour, bg, size, k / max(1, count - 1))
                )
                f.pts = round((t + k / fps) * 1000)
                f.time_base = Fraction(1, 1000)
                for p in v.encode(f):
                    c.mux(p)
            out.append(Shot(round(t, 3), round(t + seconds, 3), shape))
            t += seconds
        for p in v.encode():
            c.mux(p)
    return out


def make_tiny_video(path: Path, side: int = 1, frames: int = 5) -> None:
    """``frames`` frames of ``side`` x ``side`` pixels (odd sizes: 4:4:4, as 4:2:0 needs even)."""
    import av

    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=5)
        v.width = v.height = side
        v.pix_fmt = "yuv444p"
        for k in range(frames):
            f = av.VideoFrame.from_ndarray(
                np.full((side, side, 3), 40 * k, dtype=np.uint8), format="rgb24"
            )
            f.pts = k
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)


def add_subtitle_stream(video: Path, srt: Path, target: Path) -> None:
    """``video`` with the cues of ``srt`` muxed in as an embedded subtitle stream
    (Matroska), the way a ripped film carries them."""
    import av

    with av.open(str(video)) as src, av.open(str(srt)) as subs, av.open(str(target), "w") as out:
        vin = src.streams.video[0]
        vout = out.add_stream_from_template(vin)
        sin = subs.streams.subtitles[0]
        sout = out.add_stream_from_template(sin)
        for packet in src.demux(vin):
            if packet.size:
                packet.stream = vout
                out.mux(packet)
        for packet in subs.demux(sin):
            if packet.size:
                packet.stream = sout
                out.mux(packet)


def corrupt_middle(path: Path, length: int = 300, seed: int = 0) -> None:
    """Overwrite ``length`` bytes in the middle of ``path`` (inside its picture data, for an
    MP4 whose index is written at the end) with random bytes: a damaged packet mid-stream."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    rng = np.random.default_rng(seed)
    data[mid : mid + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def make_awkward_videos(root: Path) -> dict[str, str]:
    """Awkward videos and what an index run must make of each (``"indexed"`` or
    ``"skip:REGEX"``, as ``awkward.make_awkward_folder``); each tiny, so runs stay fast."""
    root.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}
    make_video(root / "plain.mp4", (1.0, 1.0), size=(64, 48))
    make_video(root / "turned.mp4", (1.0,), size=(64, 32), rotation=90)
    make_vfr_video(root / "vfr.mkv", ((1.0, 5), (1.0, 20)))
    make_tiny_video(root / "one_pixel.mkv")
    make_video(root / "one_4k_frame.mp4", (0.1,), size=(3840, 2160))
    make_video(root / "corrupt_middle.mp4", (1.0, 1.0), size=(64, 48), keyframe_every=5)
    corrupt_middle(root / "corrupt_middle.mp4")
    make_audio_only(root / "voice_only.mp4")
    for name in (
        "plain.mp4",
        "turned.mp4",
        "vfr.mkv",
        "one_pixel.mkv",
        "one_4k_frame.mp4",
        "corrupt_middle.mp4",
        "voice_only.mp4",
    ):
        expect[name] = "indexed"
    data = (root / "plain.mp4").read_bytes()
    # the index (moov) of an MP4 written in one go comes last: a cut-short file has none
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    expect["truncated.mp4"] = "skip:video"
    (root / "zero.mp4").write_bytes(b"")
    expect["zero.mp4"] = "skip:empty"
    (root / "notes_really.webm").write_text("a text file named like a video\n" * 20)
    expect["notes_really.webm"] = "skip:video"
    return expect
