"""Video files in the ingest pipeline: probed, scanned for cuts and cut into windows, and a few
frames of each window decoded in a worker thread; on the main thread the frames go through
every image space (their mean is the window's vector), OCR reads the middle frame, and the
soundtrack goes through the audio path (speech heard with word times).

A window's text is what is captioned (subtitle sidecars, embedded subtitle streams) or said
(the soundtrack's heard words) while it is on screen; a window with neither carries the file
name's words. Each window keeps a small JPEG of its sharpest frame for the hits it makes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from xmodal.atomic import atomic_write_bytes
from xmodal.encoders.base import Encoder, SpeechExtractor, TextExtractor, l2_normalize
from xmodal.errors import DecodeError
from xmodal.ingest.audio import audio_segments, file_hash, hear_speech, name_words
from xmodal.media.audio import AudioClip, decode_audio
from xmodal.media.limits import DecodeLimits
from xmodal.media.video import (
    AudioOnly,
    Scan,
    embedded_subtitles,
    frames_at,
    probe_video,
    scan_video,
)
from xmodal.media.video_segments import Cue, Window, overlapping, parse_subtitles, shot_windows
from xmodal.media.walk import FileRef
from xmodal.records import Modality, Segment, Word

if TYPE_CHECKING:
    from xmodal.ingest.encode import TextCache
    from xmodal.ingest.prepare import Prepared, SameContent
    from xmodal.store.sqlite import Store

#: the folder of a collection that holds the thumbnails of video segments
THUMBNAILS = "thumbnails"
#: longer side of a thumbnail, in pixels
THUMB_SIDE = 160
_SIDECAR_BYTES = 4_000_000


@dataclass(slots=True)
class VideoFrames:
    """What a video's windows need on the main thread: their frames (each with the ordinal
    of the window it belongs to), the thumbnail of each window, and the soundtrack."""

    frames: list[Image.Image]
    owners: list[int]
    thumbs: dict[int, bytes] = field(default_factory=dict)
    soundtrack: AudioClip | None = None


def thumbnail_path(root: str | os.PathLike[str], content_hash: str, ordinal: int) -> Path:
    return Path(root) / THUMBNAILS / content_hash[:2] / f"{content_hash}-{ordinal}.jpg"


def _hash(ref: FileRef, limits: DecodeLimits) -> str:
    """The file's hash and its subtitle sidecars' (by the part of their name after the
    video's stem), so a changed subtitle re-indexes the video."""
    import hashlib

    h = hashlib.blake2b(file_hash(ref.path, limits.max_video_bytes).encode(), digest_size=16)
    stem = os.path.splitext(os.path.basename(ref.path))[0]
    for side in sorted(ref.sidecars):
        try:
            with open(side, "rb") as f:
                data = f.read(_SIDECAR_BYTES)
        except OSError:
            continue
        h.update(b"\0" + os.path.basename(side)[len(stem) :].encode("utf-8", "surrogateescape"))
        h.update(data)
    return h.hexdigest()


def prepare_video(
    ref: FileRef,
    limits: DecodeLimits,
    stored_hash: str | None,
    stored_id: str | None,
    vanished: Mapping[str, str],
) -> Prepared | SameContent:
    """What ``ingest.prepare.prepare`` makes of a video file (the same three outcomes); a
    container with a soundtrack and no picture is prepared as a recording."""
    from xmodal.ingest.prepare import SameContent

    digest = _hash(ref, limits)
    if stored_id is not None and digest == stored_hash:
        return SameContent(ref, stored_id)
    if stored_id is None and digest in vanished:
        return SameContent(ref, vanished[digest])
    try:
        return decode_video(ref, digest, limits)
    except AudioOnly:
        from xmodal.ingest.audio import decode_prepared

        return decode_prepared(replace(ref, modality=Modality.AUDIO, sidecars=()), digest, limits)


def _frame_times(scan: Scan, w: Window) -> list[float]:
    """First, middle and sharpest frame of a window (fewer when they coincide)."""
    inside = [i for i, t in enumerate(scan.times) if w.start - 1e-3 <= t < w.end - 1e-3]
    if not inside:
        return [w.start]
    first, middle = inside[0], inside[len(inside) // 2]
    sharpest = max(inside, key=lambda i: scan.sharpness[i])
    return [scan.times[i] for i in dict.fromkeys((first, middle, sharpest))]


def _cues(ref: FileRef) -> tuple[list[Cue], list[str]]:
    """Cues of the subtitle sidecars and of the first embedded subtitle stream."""
    cues: list[Cue] = []
    names: list[str] = []
    for side in ref.sidecars:
        try:
            with open(side, "rb") as f:
                found = parse_subtitles(f.read(_SIDECAR_BYTES), os.path.splitext(side)[1])
        except OSError:
            continue
        if found:
            cues.extend(found)
            names.append(os.path.basename(side))
    embedded = [Cue(a, b, t) for a, b, t in embedded_subtitles(ref.path)]
    if embedded:
        cues.extend(embedded)
        names.append("embedded")
    return sorted(cues, key=lambda c: (c.start, c.end)), names


def _jpeg(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buf = io.BytesIO()
    thumb.convert("RGB").save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _soundtrack(ref: FileRef, limits: DecodeLimits) -> tuple[AudioClip | None, str | None]:
    try:
        return decode_audio(ref.path, limits), None
    except DecodeError as e:
        return None, str(e)


def decode_video(ref: FileRef, digest: str, limits: DecodeLimits) -> Prepared:
    """``ref`` cut into windows, with the frames, thumbnails and soundtrack they need."""
    from xmodal.ingest.prepare import Prepared

    probe = probe_video(ref.path, limits)
    scan = scan_video(ref.path, probe, limits)
    windows = shot_windows(scan.cuts, scan.duration)
    per_window = [_frame_times(scan, w) for w in windows]
    decoded = frames_at(
        ref.path, [t for ts in per_window for t in ts], limits.max_side, scan.rotation
    )
    frames = VideoFrames([], [])
    for n, times in enumerate(per_window):
        for t in times:
            if t in decoded:
                frames.frames.append(decoded[t])
                frames.owners.append(n)
        # the last time of a window is its sharpest frame
        if times[-1] in decoded:
            frames.thumbs[n] = _jpeg(decoded[times[-1]])
    cues, subtitle_files = _cues(ref)
    fallback = name_words(ref.path)
    segments = []
    for n, w in enumerate(windows):
        shown = overlapping(w.start, w.end, cues)
        # each cue a timed "word", so a hit on a caption is placed at the caption
        timed = tuple(Word(max(c.start, w.start), min(c.end, w.end), c.text) for c in shown)
        said = " ".join(c.text for c in shown)
        segments.append(Segment(n, said or fallback, w.start, w.end, timed))
    metadata: dict[str, Any] = {
        "duration": round(scan.duration, 3),
        "width": probe.width,
        "height": probe.height,
        "fps": round(probe.fps, 3),
        "codec": probe.codec,
        "format": probe.format,
        "rotation": scan.rotation,
        "shots": len(scan.cuts) + 1,
        "segment_shots": [w.shot for w in windows],
    }
    if subtitle_files:
        metadata["subtitles"] = subtitle_files
    if probe.has_audio:
        frames.soundtrack, why = _soundtrack(ref, limits)
        if why:
            metadata["soundtrack_error"] = why
    text = " ".join(c.text for c in cues) or fallback
    return Prepared(ref, digest, segments, metadata, text[:10_000], video=frames)


def hear_soundtracks(
    batch: Sequence[Prepared], extractors: Sequence[TextExtractor], cache: TextCache
) -> None:
    """The speech recognisers over each video's soundtrack (as over a recording); each heard
    word joins the window it was said in."""
    if not any(isinstance(e, SpeechExtractor) for e in extractors):
        return
    from xmodal.ingest.prepare import Prepared

    for p in batch:
        if p.video is None or p.video.soundtrack is None:
            continue
        clip = p.video.soundtrack
        spans, speech = audio_segments(clip, "")
        heard = Prepared(
            p.ref,
            p.content_hash + "#soundtrack",
            spans,
            {"speech_segments": speech},
            "",
            audio=clip,
        )
        hear_speech([heard], extractors, cache)
        words = [w for s in heard.segments for w in s.words]
        _join_words(p, words)
        if words:
            p.metadata["transcript"] = " ".join(w.text for w in words)[:10_000]


def _join_words(p: Prepared, words: Sequence[Word]) -> None:
    fallback = name_words(p.ref.path)
    for n, seg in enumerate(p.segments):
        lo, hi = seg.start or 0.0, seg.end or 0.0
        mine = tuple(w for w in words if lo <= (w.start + w.end) / 2 < hi)
        if not mine:
            continue
        said = " ".join(w.text for w in mine)
        shown = seg.text if seg.text != fallback else ""
        timed = tuple(sorted((*seg.words, *mine), key=lambda w: (w.start, w.end)))
        p.segments[n] = replace(seg, text=f"{shown} {said}".strip(), words=timed)


def read_text_in_frames(
    batch: Sequence[Prepared], extractors: Sequence[TextExtractor], cache: TextCache
) -> None:
    """OCR of the middle frame of each window; the words join the window's text."""
    from xmodal.ingest.encode import box_json

    for ext in extractors:
        if ext.reads is not Modality.IMAGE:
            continue
        for p in batch:
            if p.video is None:
                continue
            picks = _middle_frames(p.video)
            for ordinal, image in picks.items():
                part = f"#segment{ordinal}"
                boxes = cache.lookup(ext, [p.content_hash], part).get(p.content_hash)
                if boxes is None:
                    boxes = [box_json(b) for b in ext.extract([image])[0]]
                    cache.add(ext, p.content_hash, boxes, part)
                words = " ".join(b["text"] for b in boxes).strip()
                if words:
                    seg = p.segments[ordinal]
                    p.segments[ordinal] = replace(seg, text=f"{seg.text}. {words}")


def _middle_frames(frames: VideoFrames) -> dict[int, Image.Image]:
    by_owner: dict[int, list[Image.Image]] = {}
    for owner, image in zip(frames.owners, frames.frames, strict=True):
        by_owner.setdefault(owner, []).append(image)
    return {o: ims[min(1, len(ims) - 1)] for o, ims in by_owner.items()}


def embed_frames(
    enc: Encoder, batch: Sequence[Prepared]
) -> dict[int, tuple[list[int], np.ndarray]]:
    """Each window's vector in an image space: the mean of its frames' vectors."""
    out: dict[int, tuple[list[int], np.ndarray]] = {}
    for n, p in enumerate(batch):
        if p.video is None or not p.video.frames:
            continue
        vecs = np.vstack(
            [
                enc.encode_images(p.video.frames[lo : lo + enc.batch_size])
                for lo in range(0, len(p.video.frames), enc.batch_size)
            ]
        )
        owners = np.asarray(p.video.owners)
        ordinals = sorted(set(p.video.owners))
        pooled = np.stack([vecs[owners == o].mean(axis=0) for o in ordinals]).astype(np.float32)
        out[n] = (ordinals, l2_normalize(pooled))
    return out


def embed_soundtracks(
    enc: Encoder, batch: Sequence[Prepared]
) -> dict[int, tuple[list[int], np.ndarray]]:
    """Each window's vector in an audio space: its stretch of the soundtrack."""
    from xmodal.ingest.audio import embed_audio

    heard = [
        replace(p, audio=p.video.soundtrack) if p.video is not None else replace(p, audio=None)
        for p in batch
    ]
    return embed_audio(enc, heard)


def save_thumbnails(root: str | os.PathLike[str], batch: Sequence[Prepared]) -> None:
    """Write each window's thumbnail under the collection (named by content, so a file
    indexed again, moved or interrupted writes the same files)."""
    for p in batch:
        if p.video is None:
            continue
        for ordinal, data in p.video.thumbs.items():
            path = thumbnail_path(root, p.content_hash, ordinal)
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, data)


def prune_thumbnails(store: Store) -> int:
    """Remove the thumbnails of content no video in ``store`` has any more (a video removed,
    or changed since); the caller holds the write lock, so no run is writing new ones."""
    folder = Path(store.root) / THUMBNAILS
    if not folder.is_dir():
        return 0
    rows = store.conn.execute("SELECT DISTINCT content_hash FROM items WHERE modality = 'video'")
    keep = {r[0] for r in rows}
    removed = 0
    for sub in folder.iterdir():
        if not sub.is_dir():
            continue
        for thumb in sub.glob("*.jpg"):
            if thumb.name.rsplit("-", 1)[0] not in keep:
                thumb.unlink(missing_ok=True)
                removed += 1
        if not any(sub.iterdir()):
            sub.rmdir()
    return removed
