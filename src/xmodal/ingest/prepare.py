"""Turning one file into what the encoders need: decoded pixels or passages, the text that
belongs to an image, metadata, and a content hash. Runs in worker threads."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from xmodal.errors import DecodeError
from xmodal.media.audio import AudioClip
from xmodal.media.documents import Document, read_document
from xmodal.media.files import read_capped
from xmodal.media.image import decode_image, filename_words
from xmodal.media.limits import DecodeLimits
from xmodal.media.pdf import PdfScans
from xmodal.media.svg import SVG_EXTENSIONS, decode_svg
from xmodal.media.text import MAX_PASSAGES, passages, sidecar_text
from xmodal.media.walk import FileRef
from xmodal.records import Modality, Segment

if TYPE_CHECKING:
    from xmodal.ingest.video import VideoFrames


@runtime_checkable
class PixelPreparer(Protocol):
    """An image encoder that splits its work: pixels one image at a time, in any thread
    (``prepare_image``), then the model over a batch of them (``encode_prepared``)."""

    @property
    def name(self) -> str: ...

    def prepare_image(self, image: Image.Image) -> np.ndarray: ...

    def encode_prepared(self, pixels: Sequence[np.ndarray]) -> np.ndarray: ...


@dataclass(slots=True)
class Prepared:
    ref: FileRef
    content_hash: str
    segments: list[Segment]
    metadata: dict[str, Any]
    text: str
    image: Image.Image | None = None
    #: model inputs made from ``image`` in the decoding thread, by encoder name
    pixels: dict[str, np.ndarray] = field(default_factory=dict)
    #: pages with no text layer, which OCR reads into passages of their page
    scans: PdfScans | None = None
    #: a recording decoded to 16 kHz mono (``xmodal.media.audio.AudioClip``)
    audio: AudioClip | None = None
    #: a video's frames, thumbnails and soundtrack (``xmodal.ingest.video.VideoFrames``)
    video: VideoFrames | None = None


@dataclass(frozen=True, slots=True)
class SameContent:
    """The bytes are those of an item already stored (unchanged, or moved here)."""

    ref: FileRef
    item_id: str


@dataclass(frozen=True, slots=True)
class Failed:
    ref: FileRef
    reason: str


@dataclass(slots=True)
class _Read:
    data: bytes
    sidecars: dict[str, bytes] = field(default_factory=dict)


def _read(ref: FileRef, limits: DecodeLimits) -> _Read:
    out = _Read(read_capped(ref.path, limits, ref.size))
    for side in ref.sidecars:
        try:
            with open(side, "rb") as f:
                out.sidecars[side] = f.read(1_000_000)
        except OSError:
            continue
    return out


def content_hash(read: _Read, path: str) -> str:
    """Hash of the file and its sidecars. A sidecar enters by the part of its name after the
    image's stem (``.txt``, ``.jpg.json``), so renaming an image together with its sidecars
    keeps the hash, and the item is recognised as moved."""
    stem = os.path.splitext(os.path.basename(path))[0]
    h = hashlib.blake2b(read.data, digest_size=16)
    for name in sorted(read.sidecars):
        suffix = os.path.basename(name)[len(stem) :]
        h.update(b"\0" + suffix.encode("utf-8", "surrogateescape") + b"\0")
        h.update(read.sidecars[name])
    return h.hexdigest()


def prepare(
    ref: FileRef,
    limits: DecodeLimits,
    stored_hash: str | None,
    stored_id: str | None,
    vanished: Mapping[str, str],
    preparers: Sequence[PixelPreparer] = (),
) -> Prepared | SameContent | Failed:
    """Read, hash and decode ``ref``; decoding is skipped when the content is already stored
    under this path (``stored_hash``) or under a path that disappeared (``vanished``). An
    image also goes through each of ``preparers`` here, in the calling (decoding) thread."""
    try:
        if ref.modality is Modality.AUDIO:
            # streamed from the file, never read whole (see ingest/audio.py)
            from xmodal.ingest.audio import prepare_audio

            return prepare_audio(ref, limits, stored_hash, stored_id, vanished)
        if ref.modality is Modality.VIDEO:
            from xmodal.ingest.video import prepare_video

            return prepare_video(ref, limits, stored_hash, stored_id, vanished)
        read = _read(ref, limits)
        digest = content_hash(read, ref.path)
        if stored_id is not None and digest == stored_hash:
            return SameContent(ref, stored_id)
        if stored_id is None and digest in vanished:
            return SameContent(ref, vanished[digest])
        if ref.modality is Modality.IMAGE:
            out = _prepare_image(ref, read, digest, limits)
        else:
            out = _prepare_text(ref, read, digest, limits)
        if out.image is not None:
            out.pixels = {p.name: p.prepare_image(out.image) for p in preparers}
        return out
    except DecodeError as e:
        return Failed(ref, str(e))
    except MemoryError:
        return Failed(ref, "out of memory while decoding")
    except Exception as e:  # a decoder bug must cost one file, not the run
        return Failed(ref, f"unexpected decoder error: {type(e).__name__}: {e}")


def _words_of_name(path: str) -> str:
    return filename_words(os.path.splitext(os.path.basename(path))[0])


def _prepare_image(ref: FileRef, read: _Read, digest: str, limits: DecodeLimits) -> Prepared:
    if os.path.splitext(ref.path)[1].lower() in SVG_EXTENSIONS:
        decoded = decode_svg(read.data, limits)
    else:
        decoded = decode_image(read.data, limits)
    parts: list[str] = []
    for name, data in read.sidecars.items():
        t = sidecar_text(data, os.path.splitext(name)[1].lower())
        if t:
            parts.append(t)
    parts.extend(decoded.embedded_text)
    words = _words_of_name(ref.path)
    if words:
        parts.append(words)
    attached = ". ".join(dict.fromkeys(p.strip() for p in parts if p.strip()))
    metadata: dict[str, Any] = {
        "width": decoded.width,
        "height": decoded.height,
        "format": decoded.format,
    }
    if ref.sidecars:
        metadata["sidecars"] = [os.path.basename(s) for s in ref.sidecars]
    if decoded.embedded_text:
        metadata["embedded_text"] = decoded.embedded_text
    return Prepared(ref, digest, [Segment(0, attached)], metadata, attached, decoded.image)


def _prepare_scan(ref: FileRef, doc: Document, scan: Image.Image, digest: str) -> Prepared:
    """A document with no text layer (a scan) becomes a picture of its first page, which the
    image encoders embed and OCR, when the collection has it, reads."""
    attached = ". ".join(w for w in (doc.title, _words_of_name(ref.path)) if w)
    metadata = dict(doc.metadata)
    metadata.update(width=scan.width, height=scan.height, rendered_page=1)
    if doc.title:
        metadata["title"] = doc.title[:200]
    picture = replace(ref, modality=Modality.IMAGE)
    # the first page is the picture itself; the others are left for OCR
    rest = replace(doc.scans, pages=doc.scans.pages[1:]) if doc.scans else None
    return Prepared(picture, digest, [Segment(0, attached)], metadata, attached, scan, scans=rest)


def _prepare_text(ref: FileRef, read: _Read, digest: str, limits: DecodeLimits) -> Prepared:
    doc = read_document(ref.path, read.data, limits)
    if doc.scan is not None:
        return _prepare_scan(ref, doc, doc.scan, digest)
    segments: list[Segment] = []
    pages: list[int | None] = []
    for section in doc.sections:
        for chunk in passages(section.text)[: MAX_PASSAGES - len(segments)]:
            segments.append(Segment(len(segments), chunk))
            pages.append(section.page)
    if not segments:
        raise DecodeError("no text in file")
    text = "\n\n".join(s.text for s in doc.sections)
    metadata: dict[str, Any] = {"chars": len(text), "passages": len(segments)}
    metadata.update(doc.metadata)
    if any(p is not None for p in pages):
        # a hit on passage N is on page segment_pages[N]
        metadata["segment_pages"] = pages
    title = doc.title or next(
        (line.strip("# ").strip() for line in text.splitlines() if line.strip()), ""
    )
    if title:
        metadata["title"] = title[:200]
    return Prepared(ref, digest, segments, metadata, text[:10_000], scans=doc.scans)
