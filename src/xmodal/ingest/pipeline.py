"""Index runs: decode in worker threads while the main thread encodes and commits.

Decoding (Pillow, file I/O) and encoding (NumPy, PyTorch) both release the GIL, so threads
overlap them without copying decoded images between processes. An image encoder that can
prepare its pixels apart (``PixelPreparer``) has them made in the decoding threads too, so the
main thread only feeds the model. A bounded window of
window of in-flight files, sized by what the decoded files may weigh, keeps memory flat
however large the collection and its files are. Small encoder batches keep the progress bar
moving; commits come every few seconds of work (see ``commits``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

from xmodal.encoders.base import Encoder, TextExtractor
from xmodal.encoders.registry import info
from xmodal.errors import UsageError
from xmodal.ingest.commits import DEFAULT_COMMIT_EVERY, Clock, Commits, IndexInterrupted
from xmodal.ingest.encode import TextCache, encode_batch, writer_for
from xmodal.ingest.prepare import Failed, PixelPreparer, Prepared, SameContent, prepare
from xmodal.ingest.video import prune_thumbnails, save_thumbnails
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.media.walk import FileRef, walk
from xmodal.progress import Progress, ProgressFactory
from xmodal.records import IndexReport, Modality, Skipped
from xmodal.store.sqlite import Store, StoredItem

T = TypeVar("T")
R = TypeVar("R")

#: what the decoded files waiting for their encoder (in flight or in the batch) may weigh
DECODED_BYTES = 256 * 2**20


@dataclass(frozen=True, slots=True)
class IndexOptions:
    excludes: tuple[str, ...] = ()
    include_hidden: bool = False
    #: index what links that leave the indexed folders point to
    follow_links: bool = False
    workers: int = 0
    #: files (or passages) per encoder call; 0 takes the largest a vector space asks for,
    #: within what the decoded files may weigh (``DECODED_BYTES``)
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


def decode_limits(
    base: DecodeLimits, encoders: Sequence[Encoder], extractors: Sequence[TextExtractor] = ()
) -> DecodeLimits:
    """Decode images no larger than the most demanding encoder or extractor needs."""
    sides = [e.input_side or base.max_side for e in encoders if e.accepts(Modality.IMAGE)]
    sides += [e.max_side for e in extractors if e.reads is Modality.IMAGE]
    return replace(base, max_side=max(sides)) if sides else base


@dataclass(frozen=True, slots=True)
class RunSizes:
    """How many threads decode, how many files an encoder call takes, and how many files may
    be in flight (queued, decoding, or decoded and waiting) besides the batch."""

    workers: int
    batch: int
    window: int


def run_sizes(
    options: IndexOptions,
    encoders: Sequence[Encoder],
    limits: DecodeLimits,
    extractors: Sequence[TextExtractor] = (),
) -> RunSizes:
    """Sizes that hold no more than ``DECODED_BYTES`` of decoded pixels at once."""
    workers = options.workers or max(1, min(8, os.cpu_count() or 1))
    # the worst case of a file: an RGB image at the decode cap
    held = max(2, DECODED_BYTES // (3 * limits.max_side**2))
    # a keyword space analyses one text at a time: its batch size buys nothing here
    wanted = [e.batch_size for e in encoders if info(e.name).space == "vector"]
    batch = min(max(wanted, default=32), held // 2)
    readers = [e for e in extractors if e.reads is Modality.IMAGE]
    if readers:
        # reading text costs far more per image than embedding it: batches of what the
        # reader takes at once keep the bar moving every few seconds
        batch = min(batch, max(e.batch_size for e in readers))
    batch = options.batch_size or max(1, batch)
    return RunSizes(workers, batch, max(workers, min(batch + 2 * workers, held - batch)))


Job = tuple[FileRef, StoredItem | None]


class _IndexRun:
    """One index run's state: what is to be decoded, the batch being filled, the report."""

    def __init__(
        self,
        store: Store,
        encoders: Sequence[Encoder],
        extractors: Sequence[TextExtractor],
        limits: DecodeLimits,
        commit_every: float,
        clock: Clock | None,
    ) -> None:
        self.store = store
        self.spaces = [(enc, writer_for(enc)) for enc in encoders]
        #: image encoders whose pixels the decoding threads prepare, beside the decode
        self.preparers = [
            e for e in encoders if e.accepts(Modality.IMAGE) and isinstance(e, PixelPreparer)
        ]
        self.extractors = extractors
        self.limits = limits
        self.wanted = frozenset(e.name for e in encoders) | {e.name for e in extractors}
        self.report = IndexReport()
        self.cache = TextCache(store)
        self.commits = Commits(store, self.cache, self.report, commit_every, clock)
        #: files found under the roots
        self.found = 0
        self.vanished: dict[str, StoredItem] = {}
        self.vanished_by_hash: dict[str, str] = {}
        self.claimed: set[str] = set()
        #: decoded files waiting for the encoders, each with whether it replaces a stored item
        self.batch: list[tuple[Prepared, bool]] = []
        self.passages = 0
        self.bar: Progress | None = None

    def plan(self, roots_abs: Sequence[str], options: IndexOptions) -> list[Job]:
        """The files to decode; unchanged ones are counted and left alone."""
        walked = walk(roots_abs, options.excludes, options.include_hidden, options.follow_links)
        self.found = len(walked.files)
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
        self.commits.kept = self.report.unchanged
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
            self.preparers,
        )

    def full(self, batch_size: int) -> bool:
        """A batch closes at ``batch_size`` files or passages, whichever comes first, so one
        encoder call costs about the same whether it takes photos or long documents."""
        return len(self.batch) >= batch_size or self.passages >= batch_size

    def encode(self) -> None:
        """Encode the batch; its files count as done on the bar now, not at their commit."""
        if not self.batch:
            return
        prepared = [p for p, _ in self.batch]
        save_thumbnails(self.store.root, prepared)
        items = encode_batch(prepared, self.spaces, self.extractors, self.cache)
        self.commits.items.extend(zip(items, (u for _, u in self.batch), strict=True))
        if self.bar:
            self.bar.update(len(self.batch))
        # the pixels are no longer needed: drop them before the next batch is decoded
        self.batch.clear()
        self.passages = 0

    def flush(self) -> None:
        self.encode()
        self.commits.commit()

    def _queue(self, prepared: Prepared, replaces: bool) -> None:
        self.batch.append((prepared, replaces))
        self.passages += len(prepared.segments)

    def take(self, job: Job, result: Prepared | SameContent | Failed) -> None:
        ref, stored = job
        if isinstance(result, Prepared):
            self._queue(result, stored is not None)
            return
        if isinstance(result, SameContent):
            if self._same_content(ref, stored, result):
                return  # decoded after all: counted on the bar when encoded
        else:
            self.report.skipped.append(Skipped(ref.path, result.reason))
            if stored is not None:
                # the file changed into something unreadable: its old vectors are stale
                self.vanished[ref.path] = stored
        if self.bar:
            self.bar.update(1)

    def _same_content(self, ref: FileRef, stored: StoredItem | None, result: SameContent) -> bool:
        """Touch or move the stored item; True if the file was queued for encoding instead."""
        if stored is not None and result.item_id == stored.item.id:
            self.commits.touches.append((result.item_id, ref.mtime_ns / 1e9, ref.signature))
        elif result.item_id not in self.claimed:
            self.claimed.add(result.item_id)
            self.encode()
            self.commits.move(result.item_id, ref.path, ref.mtime_ns / 1e9, ref.signature)
        else:
            # a second copy of moved content: decode it as a new file
            again = prepare(ref, self.limits, None, None, {}, self.preparers)
            if isinstance(again, Prepared):
                self._queue(again, False)
                return True
            if isinstance(again, Failed):
                self.report.skipped.append(Skipped(ref.path, again.reason))
        return False

    def finish(self) -> None:
        """What only a complete run may do: forget the files that are gone."""
        gone = [s.item.id for s in self.vanished.values() if s.item.id not in self.claimed]
        self.report.removed = self.store.delete_items(gone)
        self.store.prune_extracted_text()
        prune_thumbnails(self.store)

    def interrupted(self) -> IndexInterrupted:
        """Keep what is encoded, drop what is not, and say how much the collection holds."""
        self.batch.clear()
        self.commits.commit()
        return IndexInterrupted(self.report, self.commits.kept, self.found)

    def complete(
        self, todo: Sequence[Job], progress: ProgressFactory | None, drive: Callable[[], None]
    ) -> IndexReport:
        """Run ``drive`` over ``todo`` under a progress bar, Ctrl-C turned into
        ``IndexInterrupted``, and finish the run once all of it is done."""
        self.bar = progress(len(todo)) if progress and todo else None
        try:
            drive()
        except KeyboardInterrupt:
            raise self.interrupted() from None
        finally:
            if self.bar:
                self.bar.close()
        self.finish()
        return self.report


def _drive(run: _IndexRun, todo: Sequence[Job], sizes: RunSizes) -> None:
    """Decode ``todo`` in worker threads, encode and commit on this one."""
    pool = ThreadPoolExecutor(max_workers=sizes.workers, thread_name_prefix="xmodal-decode")
    try:
        results = bounded_map(pool, run.work, todo, sizes.window)
        for job, result in zip(todo, results, strict=True):
            run.take(job, result)
            if run.full(sizes.batch):
                run.encode()
            if run.commits.due():
                run.commits.commit()
        run.flush()
    finally:
        # on Ctrl-C, files not yet decoded are not worth waiting for
        pool.shutdown(wait=True, cancel_futures=True)


def run_index(
    store: Store,
    roots: Sequence[str],
    encoders: Sequence[Encoder],
    options: IndexOptions = IndexOptions(),
    progress: ProgressFactory | None = None,
    extractors: Sequence[TextExtractor] = (),
    *,
    commit_every: float = DEFAULT_COMMIT_EVERY,
    clock: Clock | None = None,
) -> IndexReport:
    """Index ``roots`` into ``store`` with ``encoders``, whose spaces the caller has already
    registered or checked (``Store.ensure_space``) once for the run.

    Work is committed whenever ``commit_every`` seconds of it (by ``clock``) have piled up.
    Ctrl-C raises ``IndexInterrupted`` once what is already encoded is committed; the same
    run again does only the rest."""
    if options.workers < 0 or options.batch_size < 0:
        raise UsageError("workers and batch size must be 0 (automatic) or positive")
    if not commit_every >= 0:
        raise UsageError("commit_every must be 0 or more seconds")
    limits = decode_limits(options.limits, encoders, extractors)
    run = _IndexRun(store, encoders, extractors, limits, commit_every, clock)
    todo = run.plan([os.path.abspath(r) for r in roots], options)
    sizes = run_sizes(options, encoders, limits, extractors)
    return run.complete(todo, progress, lambda: _drive(run, todo, sizes))
