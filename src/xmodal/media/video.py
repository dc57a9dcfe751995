"""Decoding videos with PyAV (FFmpeg): a probe of the container, one pass over the frames at
a small size for the shot detector and a sharpness measure, then the few frames a segment
needs, found by seeking to their timestamps. No pass holds more than one frame at full size.

Frame times come from each frame's own timestamp (``frame.time``), so variable frame rates
need nothing special; rotation metadata (the display matrix) is applied to every frame kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from xmodal.errors import DecodeError, MissingDependencyError
from xmodal.media.files import checked_size
from xmodal.media.limits import DecodeLimits

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
#: width of the frames the shot detector and the sharpness measure read
DETECT_WIDTH = 160
#: a frame wanted this far (seconds) past the one decoded is reached by seeking, not decoding
_SEEK_GAP = 3.0
#: the least change of content a cut needs (PySceneDetect's default is 15): a cut between
#: two drawings or slides on a plain background changes little, and the detector's ratio to
#: the rolling average still keeps camera motion from counting as cuts
_MIN_CUT = 8.0
#: packets in a row that fail to decode before a stream is taken to end there
_BAD_PACKETS = 50


class AudioOnly(DecodeError):
    """A video container with no picture but a soundtrack: it belongs to the audio path."""


@dataclass(frozen=True, slots=True)
class VideoProbe:
    """What the container says of its first video stream."""

    duration: float
    width: int
    height: int
    fps: float
    codec: str
    format: str
    has_audio: bool
    subtitle_streams: int


@dataclass(frozen=True, slots=True)
class Scan:
    """What one pass over every frame found: cut times (seconds), each frame's time and
    sharpness (variance of the Laplacian at ``DETECT_WIDTH``), and the rotation applied."""

    cuts: list[float]
    times: list[float]
    sharpness: list[float]
    duration: float
    rotation: int


def _require() -> None:
    try:
        import av  # noqa: F401
        import cv2  # noqa: F401
        import scenedetect  # noqa: F401
    except ImportError:
        raise MissingDependencyError("reading video", "video") from None


def _open(path: str):  # type: ignore[no-untyped-def]
    import av

    try:
        return av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise DecodeError(f"not a readable video file ({type(e).__name__})") from None


def probe_video(path: str | os.PathLike[str], limits: DecodeLimits) -> VideoProbe:
    """The container's first video stream, or ``DecodeError`` for an empty, oversized,
    overlong, unreadable file or one without pictures (``AudioOnly`` when it has sound)."""
    _require()
    p = os.fspath(path)
    checked_size(p, limits.max_video_bytes)
    with _open(p) as c:
        has_audio = bool(c.streams.audio)
        if not c.streams.video:
            if has_audio:
                raise AudioOnly("no video stream in file (audio only)")
            raise DecodeError("no video stream in file")
        v = c.streams.video[0]
        w, h = int(v.codec_context.width or 0), int(v.codec_context.height or 0)
        if w <= 0 or h <= 0:
            raise DecodeError("video stream has no frame size (corrupt video header)")
        if w * h > limits.max_pixels:
            raise DecodeError(
                f"video frame {w}x{h} is larger than the limit of {limits.max_pixels} pixels"
            )
        duration = _duration(c, v)
        if duration > limits.max_video_seconds:
            raise DecodeError(
                f"video longer than the limit of {limits.max_video_seconds:.0f} s"
                f" ({duration:.0f} s)"
            )
        rate = v.average_rate or v.guessed_rate
        return VideoProbe(
            duration,
            w,
            h,
            float(rate) if rate else 0.0,
            v.codec_context.name,
            c.format.name,
            has_audio,
            len(c.streams.subtitles),
        )


def _duration(container: object, stream: object) -> float:
    if getattr(stream, "duration", None) and getattr(stream, "time_base", None):
        return float(stream.duration * stream.time_base)  # type: ignore[attr-defined]
    d = getattr(container, "duration", None)
    return d / 1e6 if d else 0.0


def _frames(path: str, start: float = 0.0) -> Iterator[object]:
    """Decoded frames of the first video stream from ``start``. A packet that does not
    decode (a damaged stretch of the file) is passed over and decoding goes on at the next;
    the stream ends at a damage the demuxer cannot get past or after ``_BAD_PACKETS``
    packets in a row that do not decode."""
    import av

    with _open(path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        if start > 0 and stream.time_base:
            c.seek(int(start / stream.time_base), stream=stream, backward=True)
        bad = 0
        try:
            for packet in c.demux(stream):
                try:
                    frames = packet.decode()
                except (av.error.FFmpegError, ValueError):
                    bad += 1
                    if bad > _BAD_PACKETS:
                        return
                    continue
                bad = 0
                for frame in frames:
                    if frame.time is not None:
                        yield frame
        except (av.error.FFmpegError, ValueError):
            return


def _rotated(image: Image.Image, rotation: int) -> Image.Image:
    """The frame as it is meant to be shown (PIL rotates counterclockwise, as the display
    matrix's angle is measured)."""
    turn = round(rotation / 90) * 90 % 360
    return image.rotate(turn, expand=True) if turn else image


def scan_video(path: str | os.PathLike[str], probe: VideoProbe, limits: DecodeLimits) -> Scan:
    """Cuts between shots (PySceneDetect's adaptive detector) and each frame's sharpness,
    from every frame decoded at ``DETECT_WIDTH`` wide."""
    import cv2
    from scenedetect import FrameTimecode
    from scenedetect.detectors import AdaptiveDetector

    fps = probe.fps if probe.fps > 0 else 25.0
    detector = AdaptiveDetector(min_scene_len=max(2, round(0.5 * fps)), min_content_val=_MIN_CUT)
    cuts: list[float] = []
    times: list[float] = []
    sharpness: list[float] = []
    width = max(2, min(DETECT_WIDTH, probe.width) // 2 * 2)
    height = max(2, round(probe.height * width / probe.width) // 2 * 2)
    rotation = 0
    end = 0.0
    for frame in _frames(os.fspath(path)):
        t = float(frame.time)  # type: ignore[attr-defined]
        if t > limits.max_video_seconds:
            raise DecodeError(f"video longer than the limit of {limits.max_video_seconds:.0f} s")
        if not times:
            rotation = int(getattr(frame, "rotation", 0) or 0)
        bgr = frame.to_ndarray(width=width, height=height, format="bgr24")  # type: ignore[attr-defined]
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        times.append(t)
        sharpness.append(float(cv2.Laplacian(gray, cv2.CV_64F).var()))
        for cut in detector.process_frame(FrameTimecode(t, fps), bgr):
            cuts.append(float(cut.seconds))
        end = t + 1.0 / fps
    if not times:
        raise DecodeError("corrupt video: no frame decodes")
    for cut in detector.post_process(FrameTimecode(end, fps)):
        cuts.append(float(cut.seconds))
    inside = sorted({round(c, 3) for c in cuts if times[0] < c < end})
    return Scan(inside, times, sharpness, max(end, probe.duration if not cuts else end), rotation)


def frames_at(
    path: str | os.PathLike[str], times: Sequence[float], max_side: int, rotation: int = 0
) -> dict[float, Image.Image]:
    """The frame shown at each of ``times`` (the first at or after it), scaled so that its
    longer side is at most ``max_side``. Frames are decoded in time order; a wanted time far
    past the frame decoded last is reached by seeking to the keyframe before it."""
    wanted = sorted(set(times))
    out: dict[float, Image.Image] = {}
    n = 0
    while n < len(wanted):
        last: object | None = None
        first = n
        for frame in _frames(os.fspath(path), wanted[n] if wanted[n] > _SEEK_GAP else 0.0):
            t = float(frame.time)  # type: ignore[attr-defined]
            while n < len(wanted) and t >= wanted[n] - 1e-3:
                out[wanted[n]] = _image(frame, max_side, rotation)
                n += 1
            last = frame
            # seek again only once this pass found something (a seek lands on the keyframe
            # before its target, which may lie far before it)
            if n >= len(wanted) or (n > first and wanted[n] - t > _SEEK_GAP):
                break
        else:
            # the stream ended before the times left: they show its last frame
            while n < len(wanted):
                if last is not None:
                    out[wanted[n]] = _image(last, max_side, rotation)
                n += 1
    return out


def _image(frame: object, max_side: int, rotation: int) -> Image.Image:
    w, h = frame.width, frame.height  # type: ignore[attr-defined]
    scale = min(1.0, max_side / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    rgb = frame.to_ndarray(width=size[0], height=size[1], format="rgb24")  # type: ignore[attr-defined]
    return _rotated(Image.fromarray(np.ascontiguousarray(rgb)), rotation)


def embedded_subtitles(path: str | os.PathLike[str]) -> list[tuple[float, float, str]]:
    """(start, end, text) of the cues of the container's first text subtitle stream."""
    import av

    out: list[tuple[float, float, str]] = []
    with _open(os.fspath(path)) as c:
        if not c.streams.subtitles:
            return out
        stream = c.streams.subtitles[0]
        try:
            for packet in c.demux(stream):
                if packet.pts is None or packet.time_base is None:
                    continue
                start = float(packet.pts * packet.time_base)
                length = float((packet.duration or 0) * packet.time_base)
                for sub in packet.decode():
                    # older PyAV decodes a set of rectangles, newer the rectangles themselves
                    rects = getattr(sub, "rects", None) or [sub]
                    text = " ".join(_cue_text(r) for r in rects)
                    if text.strip():
                        out.append((start, start + (length or 2.0), text.strip()))
        except (av.error.FFmpegError, ValueError):
            pass
    return out


def _cue_text(rect: object) -> str:
    raw = (
        getattr(rect, "dialogue", None)
        or getattr(rect, "text", None)
        or getattr(rect, "ass", b"")
        or b""
    )
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    # an ASS event line: the text is its last comma-separated field
    if text.count(",") >= 8:
        text = text.split(",", 8)[-1]
    return text.replace("\\N", " ").strip()
