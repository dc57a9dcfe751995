"""Keeping a collection current with the operating system's file events (watchdog).

Events are gathered into a set of changed paths and acted on once the folder has been quiet
for ``debounce`` seconds (or ``max_delay`` after the first of a long burst), as one
incremental index run over just those paths: a new or changed file is embedded, a deleted
one leaves, and a renamed folder is one run over its old and new names, in which every file
keeps its id and vectors (same content, vanished path: a move). Nothing is rescanned in full.

Each run commits as ``xmodal index`` does, so a watcher killed with ``kill -9`` loses at most
the batch in flight; on start it makes one incremental pass over its roots (unchanged files
are not even opened), which picks up whatever changed while it was not running.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from xmodal.collection import Collection
from xmodal.errors import UsageError
from xmodal.ingest.pipeline import IndexOptions
from xmodal.media.text import SIDECAR_EXTENSIONS
from xmodal.media.walk import modality_of
from xmodal.records import IndexReport, Modality, Skipped

DEBOUNCE = 0.5
MAX_DELAY = 5.0
#: how long the loop sleeps between looks at the pending set when nothing wakes it
_TICK = 0.25


@dataclass(slots=True)
class _Pending:
    """Changed paths not yet indexed, shared between watchdog's thread and the loop."""

    paths: set[str] = field(default_factory=set)
    first: float = 0.0
    last: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, paths: Iterable[str]) -> None:
        now = time.monotonic()
        with self.lock:
            if not self.paths:
                self.first = now
            self.paths.update(paths)
            self.last = now

    def take_if_ready(self, debounce: float, max_delay: float, force: bool) -> set[str]:
        now = time.monotonic()
        with self.lock:
            quiet = now - self.last >= debounce
            overdue = now - self.first >= max_delay
            if not self.paths or not (force or quiet or overdue):
                return set()
            out, self.paths = self.paths, set()
            return out


class _Handler(FileSystemEventHandler):
    def __init__(self, pending: _Pending, ignored: Callable[[str], bool]) -> None:
        self.pending = pending
        self.ignored = ignored

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        # a folder is "modified" whenever an entry in it changes, which its entry's own
        # event already says: indexing the whole folder for it would be a rescan
        if event.is_directory and event.event_type == "modified":
            return
        paths = [os.fsdecode(event.src_path)]
        if event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        kept = [p for p in paths if not self.ignored(p)]
        if kept:
            self.pending.add(kept)


def _described(path: str) -> list[str]:
    """The pictures that ``path`` is a sidecar of (``a.txt``, ``a.json`` or ``a.jpg.json``
    beside ``a.jpg``); their signatures include it, so they are what must be re-read."""
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    if ext.lower() not in SIDECAR_EXTENSIONS:
        return []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [
        os.path.join(folder, n)
        for n in names
        if (os.path.splitext(n)[0] == stem or n == stem)
        and n != name
        and modality_of(n) is Modality.IMAGE
    ]


def index_roots(paths: Iterable[str]) -> list[str]:
    """The paths one run must index for ``paths`` changed: a sidecar stands for the picture
    it describes, and a path inside another path of the set is covered by it."""
    wanted: set[str] = set()
    for p in paths:
        wanted.update(_described(p) or [p])
    out: list[str] = []
    for p in sorted(wanted):
        if not any(p.startswith(r.rstrip(os.sep) + os.sep) for r in out):
            out.append(p)
    return out


class Watcher:
    """Watch ``roots`` and index what changes into ``col`` until ``stop`` is set."""

    def __init__(
        self,
        col: Collection,
        roots: Sequence[str],
        *,
        models: Sequence[str] | None = None,
        options: IndexOptions | None = None,
        debounce: float = DEBOUNCE,
        max_delay: float = MAX_DELAY,
        on_report: Callable[[IndexReport], None] | None = None,
    ) -> None:
        self.col = col
        self.roots = [os.path.abspath(os.path.expanduser(r)) for r in roots]
        for r in self.roots:
            if not os.path.isdir(r):
                raise UsageError(f"watch needs folders; {r} is not one")
        self.models = models
        self.options = options or IndexOptions()
        self.debounce = debounce
        self.max_delay = max_delay
        self.on_report = on_report
        self.pending = _Pending()
        self._db = os.path.realpath(col.root)

    def ignored(self, path: str) -> bool:
        """The collection's own files, and hidden files unless they are indexed."""
        real = os.path.realpath(path)
        if real == self._db or real.startswith(self._db + os.sep):
            return True
        if self.options.include_hidden:
            return False
        for r in self.roots:
            if path.startswith(r + os.sep):
                return any(part.startswith(".") for part in path[len(r) + 1 :].split(os.sep))
        return False

    def index(self, paths: Iterable[str] | None = None) -> IndexReport:
        """One incremental run over ``paths`` (every root when None)."""
        roots = self.roots if paths is None else index_roots(paths)
        models = self.models if paths is None else None
        report = self.col.index(roots, models=models, options=self.options, wait=60.0)
        # a root that has vanished is how a deletion or the old name of a move is indexed
        report.skipped = [s for s in report.skipped if not _vanished_root(s, roots)]
        if self.on_report is not None:
            self.on_report(report)
        return report

    def run(self, stop: threading.Event) -> None:
        observer = Observer()
        handler = _Handler(self.pending, self.ignored)
        for r in self.roots:
            observer.schedule(handler, r, recursive=True)
        # events that arrive during the first pass wait in the pending set
        observer.start()
        try:
            self.index()
            while not stop.wait(_TICK):
                batch = self.pending.take_if_ready(self.debounce, self.max_delay, force=False)
                if batch:
                    self.index(batch)
        finally:
            observer.stop()
            observer.join()
        batch = self.pending.take_if_ready(self.debounce, self.max_delay, force=True)
        if batch:
            self.index(batch)


def _vanished_root(s: Skipped, roots: Sequence[str]) -> bool:
    return s.path in roots and s.reason == "no such file or directory"
