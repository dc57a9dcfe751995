"""An index run's commits: encoded work waits until a few seconds of it have piled up, then
goes to the store in one transaction that Ctrl-C does not cut short.

Committing by time rather than by a count of files bounds what a crash or Ctrl-C can lose
to a few seconds of work, whatever the files cost to encode.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from xmodal.ingest.encode import TextCache
from xmodal.records import IndexReport
from xmodal.store.sqlite import NewItem, Store

#: seconds of work a commit waits for at most
DEFAULT_COMMIT_EVERY = 3.0
#: files a commit holds at most, however quickly they come: a crash loses little, and a
#: search in another process sees new files soon (a commit of 64 costs milliseconds)
COMMIT_MAX_FILES = 64

Clock = Callable[[], float]


class IndexInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped an index run; everything committed before it is kept, and running the
    same index again does only the rest."""

    def __init__(self, report: IndexReport, kept: int, total: int) -> None:
        super().__init__(f"interrupted: kept {kept} of {total} files")
        self.report = report
        #: files whose current content is in the collection, of ``total`` found
        self.kept = kept
        self.total = total


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold SIGINT back while the body runs and deliver it afterwards, so that Ctrl-C lands
    between two commits rather than inside one (which would roll it back)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[FrameType | None] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(frame)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):
        previous(signal.SIGINT, caught[0])


class Commits:
    """Encoded items and unchanged-content touches waiting for their commit; the report
    counts only what is committed, so an interrupted run reports what it kept."""

    def __init__(
        self,
        store: Store,
        cache: TextCache,
        report: IndexReport,
        every: float = DEFAULT_COMMIT_EVERY,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.report = report
        self.every = every
        self.clock = clock or time.monotonic
        #: (item, True if it replaces a stored item)
        self.items: list[tuple[NewItem, bool]] = []
        self.touches: list[tuple[str, float, str]] = []
        self.since = self.clock()
        #: files whose current state is committed (unchanged ones included)
        self.kept = report.unchanged

    def __len__(self) -> int:
        return len(self.items) + len(self.touches)

    def due(self) -> bool:
        """A few seconds of work, or a full commit's worth of files, is waiting."""
        if not len(self):
            return False
        return len(self) >= COMMIT_MAX_FILES or self.clock() - self.since >= self.every

    def commit(self) -> None:
        with deferred_interrupt():
            if len(self):
                self.store.write_batch(
                    [it for it, _ in self.items], self.touches, self.cache.drain()
                )
                updated = sum(u for _, u in self.items)
                self.report.added += len(self.items) - updated
                self.report.updated += updated
                self.report.unchanged += len(self.touches)
                self.kept += len(self)
                self.items.clear()
                self.touches.clear()
            self.since = self.clock()

    def move(self, item_id: str, path: str, mtime: float, signature: str) -> None:
        """Move a stored item to ``path`` after committing what waits, in that order."""
        self.commit()
        with deferred_interrupt():
            self.store.move_item(item_id, path, mtime, signature)
            self.report.updated += 1
            self.report.moved += 1
            self.kept += 1
