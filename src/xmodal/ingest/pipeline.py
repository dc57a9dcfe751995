"""Index runs: decode in worker threads while the main thread encodes and commits.

Decoding (Pillow, file I/O) and encoding (NumPy, PyTorch) both release the GIL, so threads
overlap them without copying decoded images between processes. A bounded window of
in-flight files keeps memory flat however large the collection is.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from xmodal.encoders.base import Encoder, TextExtractor
from xmodal.encoders.registry import SpaceKind, info
from xmodal.errors import UsageError
from xmodal.ingest.prepare import Failed, Prepared, SameContent, prepare
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.media.walk import FileRef, walk
from xmodal.progress import Progress, ProgressFactory
from xmodal.records import IndexReport, Modality, Skipped
from xmodal.store.sqlite import NewItem, Store, StoredItem

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class IndexOptions:
    excludes: tuple[str, ...] = ()
    include_hidden: bool = False
    #: index what links that leave the indexed folders point to
    follow_links: bool = False
    workers: int = 0
    #: items per encoder call and per commit; 0 takes the largest the encoders ask for
    batch_size: int = 0
    limits: DecodeLimits = DEFAULT_LIMITS


def bounded_map(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """``map`` in input order with at most ``window`` calls queued or running."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def read_text_in_images(batch: Sequence[Prepared], extractors: Sequence[TextExtractor]) -> None:
    """Add the text found in each image (OCR) to the words attached to it, and keep where it
    was found in the item's metadata."""
    for ext in extractors:
        idx = [n for n, p in enumerate(batch) if p.image is not None]
        for start in range(0, len(idx), ext.batch_size):
            chunk = idx[start : start + ext.batch_size]
            found = ext.extract([im for n in chunk if (im := batch[n].image) is not None])
            for n, boxes in zip(chunk, found, strict=True):
                p = batch[n]
                p.metadata[ext.name] = [
                    {"text": b.text, "box": [list(pt) for pt in b.box], "score": round(b.score, 4)}
                    for b in boxes
                ]
                words = " ".join(b.text for b in boxes).strip()
                if words:
                    p.text = f"{p.text}. {words}" if p.text else words
                    p.segments[0] = replace(p.segments[0], text=p.text)


@dataclass(slots=True)
class _BatchOutput:
    """What the spaces make of one batch, per item: vectors by space, terms by segment."""

    vectors: list[dict[str, tuple[list[int], np.ndarray]]]
    terms: list[dict[int, list[str]]]


def _embed(enc: Encoder, batch: Sequence[Prepared], out: _BatchOutput) -> None:
    """A vector space: an image's pixels if the encoder takes images, else the words of every
    segment."""
    if enc.accepts(Modality.IMAGE):
        idx = [n for n, p in enumerate(batch) if p.image is not None]
        if idx:
            imgs = [batch[n].image for n in idx]
            vecs = enc.encode_images([im for im in imgs if im is not None])
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


SpaceWriter = Callable[[Encoder, Sequence[Prepared], _BatchOutput], None]
#: how each kind of space a family declares in its registration takes a batch
_WRITERS: dict[SpaceKind, SpaceWriter] = {"vector": _embed, "keyword": _analyze}


def _writer_for(enc: Encoder) -> SpaceWriter:
    return _WRITERS[info(enc.name).space]


def encode_batch(
    batch: Sequence[Prepared],
    spaces: Sequence[tuple[Encoder, SpaceWriter]],
    extractors: Sequence[TextExtractor] = (),
) -> list[NewItem]:
    """Embed every segment of ``batch`` in every space that can take it.

    A space that embeds pixels takes an image's pixels; a text-only space takes the words
    attached to the image instead (including words read from its pixels by ``extractors``),
    so text queries reach images through their words.
    """
    read_text_in_images(batch, extractors)
    out = _BatchOutput([{} for _ in batch], [{} for _ in batch])
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


def decode_limits(
    base: DecodeLimits, encoders: Sequence[Encoder], extractors: Sequence[TextExtractor] = ()
) -> DecodeLimits:
    """Decode images no larger than the most demanding encoder or extractor needs."""
    sides = [e.input_side or base.max_side for e in encoders if e.accepts(Modality.IMAGE)]
    sides += [e.max_side for e in extractors]
    return replace(base, max_side=max(sides)) if sides else base


Job = tuple[FileRef, StoredItem | None]


class _IndexRun:
    """One index run's state: what is to be decoded, the batch being filled, the report."""

    def __init__(
        self,
        store: Store,
        encoders: Sequence[Encoder],
        extractors: Sequence[TextExtractor],
        limits: DecodeLimits,
    ) -> None:
        self.store = store
        self.spaces = [(enc, _writer_for(enc)) for enc in encoders]
        self.extractors = extractors
        self.limits = limits
        self.wanted = frozenset(e.name for e in encoders) | {e.name for e in extractors}
        self.report = IndexReport()
        self.vanished: dict[str, StoredItem] = {}
        self.vanished_by_hash: dict[str, str] = {}
        self.claimed: set[str] = set()
        self.batch: list[Prepared] = []
        self.touches: list[tuple[str, float, str]] = []
        self.bar: Progress | None = None

    def plan(self, roots_abs: Sequence[str], options: IndexOptions) -> list[Job]:
        """The files to decode; unchanged ones are counted and left alone."""
        walked = walk(roots_abs, options.excludes, options.include_hidden, options.follow_links)
        self.report.skipped.extend(walked.skipped)
        existing = self.store.items_by_path()
        seen = {f.path for f in walked.files}
        self.vanished = {
            p: s for p, s in existing.items() if _under(p, roots_abs) and p not in seen
        }
        self.vanished_by_hash = {s.item.content_hash: s.item.id for s in self.vanished.values()}
        todo: list[Job] = []
        for f in walked.files:
            s = existing.get(f.path)
            if s is not None and s.signature == f.signature and self.wanted <= s.encoded:
                self.report.unchanged += 1
            else:
                todo.append((f, s))
        return todo

    def work(self, job: Job) -> Prepared | SameContent | Failed:
        ref, s = job
        # a stored item whose encoders do not cover the request must be decoded again
        same_ok = s is not None and self.wanted <= s.encoded
        return prepare(
            ref,
            self.limits,
            s.item.content_hash if (s and same_ok) else None,
            s.item.id if s else None,
            self.vanished_by_hash,
        )

    def flush(self) -> None:
        if self.batch:
            self.store.put_items(encode_batch(self.batch, self.spaces, self.extractors))
            if self.bar:
                self.bar.update(len(self.batch))
            self.batch.clear()
        if self.touches:
            self.store.touch_items(self.touches)
            self.touches.clear()

    def take(self, job: Job, result: Prepared | SameContent | Failed) -> None:
        ref, stored = job
        report = self.report
        if isinstance(result, SameContent):
            self._same_content(ref, stored, result)
            if self.bar:
                self.bar.update(1)
        elif isinstance(result, Failed):
            report.skipped.append(Skipped(ref.path, result.reason))
            if stored is not None:
                # the file changed into something unreadable: its old vectors are stale
                self.vanished[ref.path] = stored
            if self.bar:
                self.bar.update(1)
        else:
            self.batch.append(result)
            if stored is None:
                report.added += 1
            else:
                report.updated += 1

    def _same_content(self, ref: FileRef, stored: StoredItem | None, result: SameContent) -> None:
        report = self.report
        if stored is not None and result.item_id == stored.item.id:
            self.touches.append((result.item_id, ref.mtime_ns / 1e9, ref.signature))
            report.unchanged += 1
        elif result.item_id not in self.claimed:
            self.claimed.add(result.item_id)
            self.flush()
            self.store.move_item(result.item_id, ref.path, ref.mtime_ns / 1e9, ref.signature)
            report.updated += 1
            report.moved += 1
        else:
            # a second copy of moved content: decode it as a new file
            again = prepare(ref, self.limits, None, None, {})
            if isinstance(again, Prepared):
                self.batch.append(again)
                report.added += 1
            elif isinstance(again, Failed):
                report.skipped.append(Skipped(ref.path, again.reason))

    def remove_vanished(self) -> None:
        gone = [s.item.id for s in self.vanished.values() if s.item.id not in self.claimed]
        self.report.removed = self.store.delete_items(gone)


def run_index(
    store: Store,
    roots: Sequence[str],
    encoders: Sequence[Encoder],
    options: IndexOptions = IndexOptions(),
    progress: ProgressFactory | None = None,
    extractors: Sequence[TextExtractor] = (),
) -> IndexReport:
    """Index ``roots`` into ``store`` with ``encoders``, whose spaces the caller has already
    registered or checked (``Store.ensure_space``) once for the run."""
    if options.workers < 0 or options.batch_size < 0:
        raise UsageError("workers and batch size must be 0 (automatic) or positive")
    run = _IndexRun(
        store, encoders, extractors, decode_limits(options.limits, encoders, extractors)
    )
    todo = run.plan([os.path.abspath(r) for r in roots], options)
    run.bar = progress(len(todo)) if progress and todo else None
    workers = options.workers or max(1, min(8, os.cpu_count() or 1))
    batch_size = options.batch_size or max((e.batch_size for e in encoders), default=32)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xmodal-decode") as pool:
        window = max(2 * batch_size, 4 * workers)
        for job, result in zip(todo, bounded_map(pool, run.work, todo, window), strict=True):
            run.take(job, result)
            if len(run.batch) >= batch_size:
                run.flush()
        run.flush()
    if run.bar:
        run.bar.close()
    run.remove_vanished()
    return run.report
