"""A folder of ordinary and awkward inputs for end-to-end tests, generated on the spot.

``make_awkward_folder(root)`` writes the files (Pillow and NumPy, and soundfile and PyAV for the
recordings under ``audio/`` where the audio extra is installed; no network) and returns
what an index run must make of each, keyed by the path relative to ``root``:

- ``INDEXED``: the file must become an item;
- ``IGNORED``: the file must be neither an item nor reported as skipped (hidden files, the
  sidecars that describe an image);
- ``"skip:REGEX"``: the file must be reported in ``skipped`` with a reason matching ``REGEX``
  (case-insensitive) and must not become an item.

Paths that are not valid UTF-8 are keyed by the form the CLI reports them in: the bad bytes
written as ``\\xNN`` escapes.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

INDEXED = "indexed"
IGNORED = "ignored"
SKIP = "skip:"

#: the caption of ``captioned.jpg`` (sidecar .txt) and ``json_captioned.png`` (sidecar .json)
TXT_CAPTION = "a lighthouse on a rocky coast at dusk"
JSON_CAPTION = "a steaming bowl of ramen noodles with chopsticks"
EXIF_DESCRIPTION = "a red kite flying over green hills"
EXIF_KEYWORDS = ("kite", "hills")


def indexed(expect: dict[str, str]) -> set[str]:
    return {p for p, v in expect.items() if v == INDEXED}


def skipped(expect: dict[str, str]) -> dict[str, str]:
    """``{relative path: reason regex}`` of the files that must be reported as skipped."""
    return {p: v[len(SKIP) :] for p, v in expect.items() if v.startswith(SKIP)}


def reason_matches(pattern: str, reason: str) -> bool:
    return re.search(pattern, reason, re.IGNORECASE) is not None


# -- pixels ---------------------------------------------------------------------------------


def shape_image(
    kind: str, fg: tuple[int, int, int], bg: tuple[int, int, int], size: int = 96
) -> Image.Image:
    """A simple, distinct picture: one shape of colour ``fg`` on ``bg``."""
    im = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    s = size
    if kind == "square":
        d.rectangle((s // 5, s // 5, 4 * s // 5, 4 * s // 5), fill=fg)
    elif kind == "circle":
        d.ellipse((s // 6, s // 6, 5 * s // 6, 5 * s // 6), fill=fg)
    elif kind == "triangle":
        d.polygon([(s // 2, s // 8), (s // 8, 7 * s // 8), (7 * s // 8, 7 * s // 8)], fill=fg)
    elif kind == "stripes":
        for x in range(0, s, s // 8):
            d.rectangle((x, 0, x + s // 16, s), fill=fg)
    elif kind == "checker":
        step = s // 6
        for y in range(0, s, step):
            for x in range(0, s, step):
                if (x // step + y // step) % 2 == 0:
                    d.rectangle((x, y, x + step - 1, y + step - 1), fill=fg)
    elif kind == "cross":
        d.rectangle((2 * s // 5, 0, 3 * s // 5, s), fill=fg)
        d.rectangle((0, 2 * s // 5, s, 3 * s // 5), fill=fg)
    elif kind == "ring":
        d.ellipse((s // 8, s // 8, 7 * s // 8, 7 * s // 8), outline=fg, width=s // 10)
    elif kind == "diagonal":
        d.polygon([(0, 0), (s, 0), (0, s)], fill=fg)
    elif kind == "arrow":
        # an orientation-dependent picture: an arrow pointing right, off-centre
        d.rectangle((s // 10, 2 * s // 5, 3 * s // 5, 3 * s // 5 - 1), fill=fg)
        d.polygon([(3 * s // 5, s // 5), (9 * s // 10, s // 2), (3 * s // 5, 4 * s // 5)], fill=fg)
        d.rectangle((0, 0, s // 8, s // 8), fill=(0, 0, 0))
    else:
        raise ValueError(kind)
    return im


def noise_image(seed: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB")


def encoded(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_claiming(width: int, height: int) -> bytes:
    """A syntactically valid PNG whose header claims ``width`` x ``height`` RGB pixels, with a
    tiny IDAT: a decompression bomb's header without the bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# the upright picture of ``modes/rotated.jpg`` and the frames of ``modes/animated.gif``, so that
# tests can search with them
def rotated_upright() -> Image.Image:
    return shape_image("arrow", (20, 160, 200), (250, 240, 200), size=96).resize((96, 64))


def gif_frames() -> list[Image.Image]:
    first = shape_image("checker", (230, 0, 230), (0, 200, 200))
    second = shape_image("circle", (0, 0, 0), (255, 255, 0))
    return [first, second]


# -- the folder -----------------------------------------------------------------------------


def make_awkward_folder(root: Path, audio: bool = True, video: bool = True) -> dict[str, str]:
    """Write the awkward folder under ``root`` and return the expectations (see module doc);
    ``audio=False`` leaves the recordings out, ``video=False`` the videos."""
    root.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}

    def put(rel: str, data: bytes, expectation: str) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expect[rel] = expectation
        return path

    # ordinary images, one per format, each a distinct shape and colour
    put(
        "red_square.jpg",
        encoded(shape_image("square", (220, 20, 20), (255, 255, 255)), "JPEG", quality=92),
        INDEXED,
    )
    put(
        "blue_circle.png",
        encoded(shape_image("circle", (20, 40, 220), (240, 240, 240)), "PNG"),
        INDEXED,
    )
    put(
        "green_triangle.webp",
        encoded(shape_image("triangle", (30, 180, 40), (250, 250, 250)), "WEBP", quality=90),
        INDEXED,
    )
    put(
        "orange_stripes.bmp",
        encoded(shape_image("stripes", (250, 140, 0), (20, 20, 60)), "BMP"),
        INDEXED,
    )
    put(
        "purple_checker.tiff",
        encoded(shape_image("checker", (120, 20, 160), (255, 255, 200)), "TIFF"),
        INDEXED,
    )

    # text documents
    put(
        "notes/meeting.txt",
        b"Meeting notes\n\nWe discussed the quarterly budget and the new office in Lisbon.\n",
        INDEXED,
    )
    put(
        "notes/readme.md", b"# Gardening\n\nTomatoes need full sun and regular watering.\n", INDEXED
    )
    put(
        "notes/latin1.txt",
        "Recette: café crème brûlée, à déguster froid.\n".encode("latin-1"),
        INDEXED,
    )

    # images with sidecars: the sidecar is words about the image, not a document of its own
    put(
        "captioned.jpg", encoded(shape_image("ring", (200, 200, 30), (10, 60, 20)), "JPEG"), INDEXED
    )
    put("captioned.txt", (TXT_CAPTION + "\n").encode(), IGNORED)
    put(
        "json_captioned.png",
        encoded(shape_image("cross", (90, 50, 20), (180, 220, 255)), "PNG"),
        INDEXED,
    )
    put("json_captioned.json", json.dumps({"caption": JSON_CAPTION}).encode(), IGNORED)

    # broken files
    jpeg = encoded(noise_image(1, 128), "JPEG", quality=90)
    put("broken/truncated.jpg", jpeg[: len(jpeg) // 2], SKIP + "truncated|corrupt")
    png = encoded(noise_image(2, 128), "PNG")
    put("broken/truncated.png", png[: len(png) // 2], SKIP + "truncated|corrupt")
    put("broken/empty.jpg", b"", SKIP + "empty")
    put(
        "broken/not_really.png",
        b"this is plain text, not a picture\n" * 4,
        SKIP + "not a supported image|unrecognised|unidentified",
    )
    put("broken/bomb.png", png_claiming(50_000, 50_000), SKIP + "too large|over the limit|pixels")
    put("broken/binary.txt", b"\x00\x01\x02\x03binary\x00data" * 64, SKIP + "binary")
    put("broken/archive.zip", b"PK\x05\x06" + b"\x00" * 18, SKIP + r"unsupported type \(\.zip\)")

    # a text file known by its content, not by its name
    put("notes/README", b"Read me first: the spare key is under the mat.\n", INDEXED)

    # colour modes, animation, orientation, metadata
    frames = gif_frames()
    put(
        "modes/animated.gif",
        encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
        INDEXED,
    )
    put(
        "modes/cmyk.jpg",
        encoded(shape_image("diagonal", (0, 120, 60), (250, 250, 250)).convert("CMYK"), "JPEG"),
        INDEXED,
    )
    grey16 = (np.linspace(0, 65535, 80 * 80).reshape(80, 80)).astype(np.uint16)
    im16 = Image.fromarray(grey16)
    assert im16.mode.startswith("I;16"), im16.mode
    put("modes/grey16.png", encoded(im16, "PNG"), INDEXED)
    rgba = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).ellipse((10, 10, 70, 70), fill=(255, 0, 128, 200))
    put("modes/rgba.png", encoded(rgba, "PNG"), INDEXED)
    pal = Image.new("P", (80, 80), 0)
    pal.putpalette([0, 0, 0, 255, 200, 0, 0, 90, 255] + [0] * (256 * 3 - 9))
    ImageDraw.Draw(pal).rectangle((15, 15, 65, 65), fill=1)
    ImageDraw.Draw(pal).ellipse((30, 30, 50, 50), fill=2)
    put("modes/palette_transparent.png", encoded(pal, "PNG", transparency=0), INDEXED)
    # stored pixels are the upright picture turned 90 degrees anticlockwise; orientation 6
    # ("rotate 90 CW to display") makes it upright again
    stored = rotated_upright().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    put("modes/rotated.jpg", encoded(stored, "JPEG", quality=95, exif=exif), INDEXED)
    exif = Image.Exif()
    exif[0x010E] = EXIF_DESCRIPTION
    exif[0x9C9E] = ";".join(EXIF_KEYWORDS).encode("utf-16-le") + b"\x00\x00"
    put(
        "modes/exif_text.jpg",
        encoded(shape_image("square", (200, 30, 30), (120, 200, 90)), "JPEG", exif=exif),
        INDEXED,
    )

    # names
    names = root / "names"
    names.mkdir(exist_ok=True)
    bad = os.path.join(os.fsencode(names), b"caf\xe9.jpg")
    with open(bad, "wb") as f:
        f.write(encoded(shape_image("square", (10, 10, 10), (200, 200, 255)), "JPEG"))
    expect["names/caf\\xe9.jpg"] = SKIP + "UTF-8"
    put(
        "names/猫的照片.png",
        encoded(shape_image("circle", (255, 160, 200), (40, 40, 40)), "PNG"),
        INDEXED,
    )
    put(
        "names/party 🎉.png",
        encoded(shape_image("cross", (255, 215, 0), (128, 0, 64)), "PNG"),
        INDEXED,
    )
    put(
        "names/with some spaces.jpg",
        encoded(shape_image("triangle", (0, 0, 0), (255, 128, 64)), "JPEG"),
        INDEXED,
    )

    # links: a folder link to its own folder, one to the root, and a dangling file link
    links = root / "links"
    links.mkdir(exist_ok=True)
    put(
        "links/inside.png",
        encoded(shape_image("diagonal", (60, 60, 200), (255, 255, 0)), "PNG"),
        INDEXED,
    )
    os.symlink(".", links / "loop")
    expect["links/loop"] = SKIP + "loop"
    os.symlink("..", links / "up")
    expect["links/up"] = SKIP + "loop"
    os.symlink("does-not-exist.jpg", links / "dangling.jpg")
    expect["links/dangling.jpg"] = SKIP + "broken symbolic link|no such file"

    # hidden files and folders are not indexed, and not reported either
    put(".hidden.jpg", encoded(shape_image("ring", (255, 0, 0), (0, 0, 255)), "JPEG"), IGNORED)
    put(".secret/inside.png", encoded(shape_image("cross", (0, 255, 0), (0, 0, 0)), "PNG"), IGNORED)
    put(".secret/notes.txt", b"hidden notes\n", IGNORED)

    # recordings: any rate, depth and channel count, and the broken ones (with the audio extra)
    if audio and importlib.util.find_spec("soundfile") and importlib.util.find_spec("av"):
        for rel, what in make_awkward_audio(root / "audio").items():
            expect[f"audio/{rel}"] = what
    # videos: rotated, variable frame rate, 1x1, 4K, damaged mid-stream, cut short, empty
    if video and all(importlib.util.find_spec(m) for m in ("av", "scenedetect", "cv2")):
        from videos import make_awkward_videos

        for rel, what in make_awkward_videos(root / "video").items():
            expect[f"video/{rel}"] = what
    return expect


# -- many plain images, for runs that must take a while ----------------------------------------


def make_image_folder(root: Path, count: int, size: int = 1200, seed: int = 0) -> list[str]:
    """``count`` JPEGs of ``size`` x ``3/4 size`` pixels under ``root`` (absolute paths, sorted).

    A few smooth pictures are encoded once and written with a distinct trailer after the end
    of the JPEG stream, so every file has its own bytes (and content hash) while generation
    stays cheap; decoding them costs what a photo of that size costs.
    """
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bases = []
    for _ in range(12):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        im = Image.fromarray(small, "RGB").resize((size, size * 3 // 4), Image.Resampling.BICUBIC)
        bases.append(encoded(im, "JPEG", quality=85))
    paths = []
    for n in range(count):
        sub = root / f"part{n % 4}"
        sub.mkdir(exist_ok=True)
        path = sub / f"photo_{n:04d}.jpg"
        path.write_bytes(bases[n % len(bases)] + b"xmodal-test-%08d" % n)
        paths.append(str(path))
    return sorted(paths)


# -- running the CLI ------------------------------------------------------------------------

#: the real command line, run as a separate process
XMODAL = (sys.executable, "-m", "xmodal.cli")


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUTF8="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def xmodal(*args: str | os.PathLike[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``xmodal ARGS`` and return what it did (raises ``TimeoutExpired`` if it hangs)."""
    return subprocess.run(
        [*XMODAL, *map(os.fspath, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="strict",
        env=cli_env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def xmodal_json(*args: str | os.PathLike[str], timeout: float = 120) -> Any:
    """Run ``xmodal ARGS`` (which must include ``--json``), require success, parse stdout."""
    done = xmodal(*args, timeout=timeout)
    assert done.returncode == 0, (
        f"xmodal {' '.join(map(os.fspath, args))} exited {done.returncode}:\n{done.stderr}"
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"--json must print one line, got {done.stdout!r}"
    return json.loads(lines[0])


def spawn(*args: str | os.PathLike[str]) -> subprocess.Popen[str]:
    """Start ``xmodal ARGS`` in the background, its output captured."""
    return subprocess.Popen(
        [*XMODAL, *map(os.fspath, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        env=cli_env(),
    )


def count_items(db: Path) -> int:
    """Items committed in the collection at ``db`` (0 if it has no database or table yet);
    reads with plain SQLite so that polling never takes a lock the writer needs."""
    path = db / "xmodal.db"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def wait_for_items(db: Path, at_least: int, proc: subprocess.Popen[str], limit: float) -> int:
    """Poll until ``db`` holds ``at_least`` items, ``proc`` ends, or ``limit`` seconds pass."""
    deadline = time.monotonic() + limit
    n = count_items(db)
    while n < at_least and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
        n = count_items(db)
    return n


# -- audio ----------------------------------------------------------------------------------

AUDIO_RATE = 16_000


def espeak(text: str, rate: int = AUDIO_RATE) -> np.ndarray:
    """``text`` spoken by espeak-ng (Debian), as float32 mono at ``rate``."""
    import shutil
    import tempfile

    import soundfile as sf
    import soxr

    if shutil.which("espeak-ng") is None:
        import pytest

        pytest.skip("espeak-ng is not installed (scripts/test.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "130", "-w", out, text], check=True)
        y, sr = sf.read(out, dtype="float32")
    # espeak pads its speech with silence; the ground truth is the speech itself
    loud = np.flatnonzero(np.abs(y) > 0.01)
    y = y[loud[0] : loud[-1] + 1] if loud.size else y
    return np.asarray(soxr.resample(y, sr, rate), dtype=np.float32)


def tone(seconds: float, freq: float, rate: int = AUDIO_RATE, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, seed: int, rate: int = AUDIO_RATE, level: float = 0.002) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(seconds * rate))).astype(np.float32)


def speech_recording(
    parts: list[tuple[str, float]], seconds: float, seed: int = 0
) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Sentences spoken at the given offsets over quiet noise; returns the samples and each
    sentence's exact (text, start, end)."""
    out = noise(seconds, seed)
    truth = []
    for text, at in parts:
        said = espeak(text)
        lo = int(at * AUDIO_RATE)
        out[lo : lo + len(said)] += said[: len(out) - lo]
        truth.append((text, at, at + len(said) / AUDIO_RATE))
    return out, truth


def make_awkward_audio(root: Path) -> dict[str, str]:
    """Awkward audio files and what an index run must make of each (as ``make_awkward_folder``)."""
    import av
    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}
    hum = tone(2.0, 220, 8000)
    sf.write(root / "low_rate_8k.wav", hum, 8000)
    stereo = np.stack([tone(2.0, 330, 48000), tone(2.0, 660, 48000)], axis=1)
    sf.write(root / "stereo_48k.flac", stereo, 48000)
    sf.write(root / "deep_24bit.wav", tone(1.5, 440, 44100), 44100, subtype="PCM_24")
    sf.write(root / "vorbis.ogg", tone(1.5, 500, 22050), 22050, format="OGG", subtype="VORBIS")
    sf.write(root / "whole.mp3", tone(3.0, 300, 22050), 22050, format="MP3")
    sf.write(root / "long_silence.wav", np.zeros(90 * 8000, dtype=np.float32), 8000)
    with av.open(str(root / "speech_aac.m4a"), "w") as out:
        stream = out.add_stream("aac", rate=22050)
        samples = tone(1.5, 700, 22050).reshape(1, -1)
        for lo in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, lo : lo + 1024]), format="flt", layout="mono"
            )
            frame.sample_rate = 22050
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    for name in (
        "low_rate_8k.wav",
        "stereo_48k.flac",
        "deep_24bit.wav",
        "vorbis.ogg",
        "whole.mp3",
        "long_silence.wav",
        "speech_aac.m4a",
    ):
        expect[name] = INDEXED
    (root / "zero.wav").write_bytes(b"")
    expect["zero.wav"] = SKIP + "empty"
    (root / "notes_really.wav").write_text("this is a text file named like a recording\n" * 20)
    expect["notes_really.wav"] = SKIP + "audio"
    mp3 = (root / "whole.mp3").read_bytes()
    (root / "cut_short.mp3").write_bytes(mp3[:200])
    expect["cut_short.mp3"] = SKIP + "audio"
    return expect
