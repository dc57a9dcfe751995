"""Turning a batch of decoded files into what the store writes: text read from the pixels,
vectors of every vector space, terms of every keyword space."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from xmodal.encoders.base import Encoder, SpeechExtractor, TextBox, TextExtractor
from xmodal.encoders.registry import SpaceKind, info
from xmodal.errors import DecodeError
from xmodal.ingest.audio import audio_spans, embed_audio, embed_spans, hear_speech
from xmodal.ingest.prepare import PixelPreparer, Prepared
from xmodal.ingest.video import (
    embed_frames,
    embed_soundtracks,
    hear_soundtracks,
    read_text_in_frames,
)
from xmodal.media.text import MAX_PASSAGES, passages
from xmodal.records import Modality, Segment
from xmodal.store.sqlite import ExtractedText, NewItem, Store

Boxes = list[dict[str, Any]]


class TextCache:
    """What each extractor read from each content hash, so that the same bytes are read once
    however often they are indexed again (with another model, under another name).

    New readings wait here until the run commits them with the items that carry them."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self.pending: dict[tuple[str, str], ExtractedText] = {}

    def lookup(self, ext: TextExtractor, hashes: Sequence[str], part: str = "") -> dict[str, Boxes]:
        """What ``ext`` read from each content; ``part`` names a part of it read on its own
        (a page of a document), filed under the extractor's name and that part."""
        name = ext.name + part
        fingerprint = ext.spec.fingerprint()
        found: dict[str, Boxes] = {}
        for h in hashes:
            hit = self.pending.get((h, name))
            if hit is not None and hit.fingerprint == fingerprint:
                found[h] = hit.boxes
        missing = [h for h in hashes if h not in found]
        if self.store is not None and missing:
            found.update(self.store.extracted_text(name, fingerprint, missing))
        return found

    def add(self, ext: TextExtractor, content_hash: str, boxes: Boxes, part: str = "") -> None:
        name = ext.name + part
        self.pending[(content_hash, name)] = ExtractedText(
            content_hash, name, ext.spec.fingerprint(), boxes
        )

    def drain(self) -> list[ExtractedText]:
        out = list(self.pending.values())
        self.pending.clear()
        return out


def box_json(b: TextBox) -> dict[str, Any]:
    return {"text": b.text, "box": [list(pt) for pt in b.box], "score": round(b.score, 4)}


def _read(ext: TextExtractor, batch: Sequence[Prepared], cache: TextCache) -> dict[int, Boxes]:
    """Boxes of each image of ``batch`` by position: from the cache, else read now."""
    idx = [n for n, p in enumerate(batch) if p.image is not None]
    known = cache.lookup(ext, [batch[n].content_hash for n in idx])
    out = {n: known[batch[n].content_hash] for n in idx if batch[n].content_hash in known}
    todo = [n for n in idx if n not in out]
    for start in range(0, len(todo), ext.batch_size):
        chunk = todo[start : start + ext.batch_size]
        found = ext.extract([im for n in chunk if (im := batch[n].image) is not None])
        for n, boxes in zip(chunk, found, strict=True):
            out[n] = [box_json(b) for b in boxes]
            cache.add(ext, batch[n].content_hash, out[n])
    return out


def read_text_in_images(
    batch: Sequence[Prepared],
    extractors: Sequence[TextExtractor],
    cache: TextCache | None = None,
) -> None:
    """Add the text found in each image (OCR) to the words attached to it, and keep where it
    was found in the item's metadata; the words on each scanned page of a document become
    passages of that page."""

    cache = cache or TextCache(None)
    for ext in extractors:
        if ext.reads is not Modality.IMAGE:
            continue
        for n, boxes in _read(ext, batch, cache).items():
            p = batch[n]
            p.metadata[ext.name] = boxes
            words = " ".join(b["text"] for b in boxes).strip()
            if words:
                p.text = f"{p.text}. {words}" if p.text else words
                p.segments[0] = replace(p.segments[0], text=p.text)
    for ext in extractors:
        for p in batch:
            if p.scans is not None and p.scans.pages:
                _read_scanned_pages(ext, p, cache)


def _read_scanned_pages(ext: TextExtractor, p: Prepared, cache: TextCache) -> None:
    """Read each scanned page of ``p`` (rendered a batch at a time, so memory holds a few
    pages however long the document) and add its words as passages of that page."""
    assert p.scans is not None
    found: dict[int, Boxes] = {}
    for page in p.scans.pages:
        hit = cache.lookup(ext, [p.content_hash], f"#page{page}").get(p.content_hash)
        if hit is not None:
            found[page] = hit
    todo = [page for page in p.scans.pages if page not in found]
    try:
        for start in range(0, len(todo), ext.batch_size):
            chunk = todo[start : start + ext.batch_size]
            for page, boxes in zip(chunk, ext.extract(p.scans.render(chunk)), strict=True):
                found[page] = [box_json(b) for b in boxes]
                cache.add(ext, p.content_hash, found[page], f"#page{page}")
    except DecodeError as e:
        # the document opened when it was read; a page that will not render costs its words
        p.metadata[f"{ext.name}_error"] = str(e)
    read = [page for page in p.scans.pages if page in found and _add_page(p, page, found[page])]
    p.metadata[f"{ext.name}_pages"] = read


def _add_page(p: Prepared, page: int, boxes: Boxes) -> bool:
    """Add the words of ``boxes`` as passages on ``page``; whether any were added."""
    words = " ".join(b["text"] for b in boxes).strip()
    room = MAX_PASSAGES - len(p.segments)
    if not words or room <= 0:
        return False
    # a scan's first segment is the picture of its first page
    pages = p.metadata.setdefault(
        "segment_pages", [p.metadata.get("rendered_page")] * len(p.segments)
    )
    for chunk in passages(words)[:room]:
        p.segments.append(Segment(len(p.segments), chunk))
        pages.append(page)
    return True


@dataclass(slots=True)
class _BatchOutput:
    """What the spaces make of one batch, per item: vectors by space, terms by segment."""

    vectors: list[dict[str, tuple[list[int], np.ndarray]]]
    terms: list[dict[int, list[str]]]
    #: audio spaces whose recordings were embedded already, beside the recogniser
    heard_aside: set[str] = field(default_factory=set)

    def vectors_by_item(self, space: str, found: dict[int, tuple[list[int], np.ndarray]]) -> None:
        for n, value in found.items():
            self.vectors[n][space] = value


def _image_vectors(enc: Encoder, batch: Sequence[Prepared]) -> np.ndarray:
    """Vectors of images, from the pixels the decoding threads prepared where they did."""
    if isinstance(enc, PixelPreparer) and all(enc.name in p.pixels for p in batch):
        return enc.encode_prepared([p.pixels[enc.name] for p in batch])
    return enc.encode_images([p.image for p in batch if p.image is not None])


def _embed(enc: Encoder, batch: Sequence[Prepared], out: _BatchOutput) -> None:
    """A vector space: an image's pixels if the encoder takes images, a recording's spans if
    it takes audio, else the words of every segment."""
    if enc.accepts(Modality.AUDIO):
        if enc.name not in out.heard_aside:
            out.vectors_by_item(enc.name, embed_audio(enc, batch))
        out.vectors_by_item(enc.name, embed_soundtracks(enc, batch))
    if enc.accepts(Modality.IMAGE):
        out.vectors_by_item(enc.name, embed_frames(enc, batch))
        idx = [n for n, p in enumerate(batch) if p.image is not None]
        if idx:
            vecs = _image_vectors(enc, [batch[n] for n in idx])
            for row, n in enumerate(idx):
                out.vectors[n][enc.name] = ([0], vecs[row : row + 1])
    if enc.accepts(Modality.TEXT):
        owners: list[tuple[int, int]] = []
        texts: list[str] = []
        for n, p in enumerate(batch):
            if enc.name in out.vectors[n]:
                continue
            for seg in p.segments:
                if seg.text.strip():
                    owners.append((n, seg.ordinal))
                    texts.append(seg.text)
        if texts:
            vecs = enc.encode_texts(texts, role="passage")
            grouped: dict[int, list[int]] = {}
            for row, (n, _) in enumerate(owners):
                grouped.setdefault(n, []).append(row)
            for n, rows in grouped.items():
                out.vectors[n][enc.name] = ([owners[r][1] for r in rows], vecs[rows])


def _analyze(enc: Encoder, batch: Sequence[Prepared], out: _BatchOutput) -> None:
    """A keyword space: the terms of every segment with words."""
    for n, p in enumerate(batch):
        out.terms[n] = {s.ordinal: enc.analyze(s.text) for s in p.segments if s.text.strip()}


def _embed_sound_aside(
    pool: ThreadPoolExecutor,
    batch: Sequence[Prepared],
    spaces: Sequence[tuple[Encoder, SpaceWriter]],
    extractors: Sequence[TextExtractor],
) -> dict[str, Future[dict[int, tuple[list[int], np.ndarray]]]]:
    """Start embedding the batch's recordings in every audio space while the recogniser
    hears them: a sound's vector does not depend on its words, and the recogniser leaves
    cores idle between its steps. Nothing starts when no recogniser runs."""
    if not any(isinstance(e, SpeechExtractor) for e in extractors):
        return {}
    jobs = audio_spans(batch)
    if not jobs:
        return {}
    return {
        enc.name: pool.submit(embed_spans, enc, jobs)
        for enc, _ in spaces
        if enc.accepts(Modality.AUDIO) and info(enc.name).space == "vector"
    }


SpaceWriter = Callable[[Encoder, Sequence[Prepared], _BatchOutput], None]
#: how each kind of space a family declares in its registration takes a batch
_WRITERS: dict[SpaceKind, SpaceWriter] = {"vector": _embed, "keyword": _analyze}


def writer_for(enc: Encoder) -> SpaceWriter:
    return _WRITERS[info(enc.name).space]


def encode_batch(
    batch: Sequence[Prepared],
    spaces: Sequence[tuple[Encoder, SpaceWriter]],
    extractors: Sequence[TextExtractor] = (),
    cache: TextCache | None = None,
) -> list[NewItem]:
    """Embed every segment of ``batch`` in every space that can take it.

    A space that embeds pixels takes an image's pixels; a text-only space takes the words
    attached to the image instead (including words read from its pixels by ``extractors``,
    or found in ``cache`` for the same bytes), so text queries reach images through their
    words.
    """
    cache = cache or TextCache(None)
    out = _BatchOutput([{} for _ in batch], [{} for _ in batch])
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="xmodal-sound") as pool:
        aside = _embed_sound_aside(pool, batch, spaces, extractors)
        read_text_in_images(batch, extractors, cache)
        hear_speech(batch, extractors, cache)
        read_text_in_frames(batch, extractors, cache)
        hear_soundtracks(batch, extractors, cache)
        for name, future in aside.items():
            out.vectors_by_item(name, future.result())
            out.heard_aside.add(name)
    for enc, write in spaces:
        write(enc, batch, out)
    names = frozenset(e.name for e, _ in spaces) | {e.name for e in extractors}
    return [
        NewItem(
            path=p.ref.path,
            modality=p.ref.modality,
            content_hash=p.content_hash,
            size=p.ref.size,
            mtime=p.ref.mtime_ns / 1e9,
            signature=p.ref.signature,
            metadata=p.metadata,
            text=p.text,
            segments=p.segments,
            vectors=out.vectors[n],
            encoded=names,
            terms=out.terms[n],
        )
        for n, p in enumerate(batch)
    ]
