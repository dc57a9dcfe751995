"""What the approximate indexes share: rows that map to segment ids, in-place updates, files.

Each approximate index keeps its vectors in rows numbered in the order they were added; a
removed id only marks its row dead (a tombstone), and an id added again takes a new row, so an
update never renumbers what is already there. When dead rows make up too much of the index,
``needs_rebuild`` says so and the caller builds it afresh from the store.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.index.base import VectorIndex, pad
from xmodal.progress import Progress

#: a filter that lets through at most this share of the rows is searched exactly over the
#: rows it allows: graph and list traversals lose recall when most neighbours are filtered out
SELECTIVE_SHARE = 0.05
#: and one that allows at most this many rows is always searched exactly (cheap at any size)
SELECTIVE_ROWS = 20_000
#: dead rows past this share of all rows make ``needs_rebuild`` true
MAX_DEAD_SHARE = 0.3


def empty_result(m: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return pad(np.empty((m, 0), np.float32), np.empty((m, 0), np.int64), k)


def exact_top(
    q: np.ndarray, vecs: np.ndarray, ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top ``k`` of ``q`` rows over ``vecs`` (row-aligned with ``ids``)."""
    if len(ids) == 0 or k <= 0:
        return empty_result(len(q), k)
    sims = q @ np.asarray(vecs, dtype=np.float32).T
    kk = min(k, len(ids))
    top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
    top_scores = np.take_along_axis(sims, top, axis=1)
    order = np.lexsort((ids[top], -top_scores), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    return pad(np.take_along_axis(sims, top, axis=1).astype(np.float32), ids[top], k)


class UpdatableIndex(VectorIndex):
    """An index that takes additions and removals in place and saves itself to files."""

    def __init__(self) -> None:
        #: row -> segment id; -1 for a dead row
        self._row_ids = np.empty(0, dtype=np.int64)
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._live: int | None = None

    # -- rows ----------------------------------------------------------------------------

    def __len__(self) -> int:
        if self._live is None:
            self._live = int(np.count_nonzero(self._row_ids >= 0))
        return self._live

    @property
    def rows(self) -> int:
        return len(self._row_ids)

    def live_ids(self) -> np.ndarray:
        """The ids the index holds, sorted."""
        return self._lookup()[0]

    def _lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted live ids, their rows), rebuilt after each change."""
        if self._sorted is None:
            live = np.flatnonzero(self._row_ids >= 0)
            order = np.argsort(self._row_ids[live], kind="stable")
            self._sorted = (self._row_ids[live][order], live[order])
        return self._sorted

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The rows of those of ``ids`` the index holds."""
        sorted_ids, rows = self._lookup()
        ids = np.asarray(ids, dtype=np.int64)
        if len(sorted_ids) == 0 or len(ids) == 0:
            return np.empty(0, dtype=np.int64)
        pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return rows[pos[sorted_ids[pos] == ids]]

    def _append_rows(self, ids: np.ndarray) -> np.ndarray:
        """New rows for ``ids`` (ids already there lose their old row); returns the rows."""
        ids = np.asarray(ids, dtype=np.int64)
        self._kill(self.rows_of(ids))
        start = len(self._row_ids)
        self._row_ids = np.concatenate([self._row_ids, ids])
        self._sorted = self._live = None
        return np.arange(start, start + len(ids), dtype=np.int64)

    def _kill(self, rows: np.ndarray) -> None:
        if len(rows):
            self._row_ids = self._row_ids.copy()
            self._row_ids[rows] = -1
            self._sorted = self._live = None

    def dead_share(self) -> float:
        return 0.0 if self.rows == 0 else 1.0 - len(self) / self.rows

    def is_selective(self, allowed_rows: int) -> bool:
        return allowed_rows <= max(SELECTIVE_ROWS, SELECTIVE_SHARE * len(self))

    def _labels_to_ids(
        self, scores: np.ndarray, labels: np.ndarray, k: int, ordered: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows to ids, best first; ``ordered``: the rows come best first already (as FAISS
        answers), so a full answer of live rows needs no re-sorting (a query's hot path)."""
        if ordered and labels.size and labels.min() >= 0:
            ids = self._row_ids[labels]
            if ids.min() >= 0:
                return pad(scores.astype(np.float32, copy=False), ids, k)
        ok = labels >= 0
        ids = np.where(ok, self._row_ids[np.maximum(labels, 0)], -1)
        ok &= ids >= 0
        scores = np.where(ok, scores, -np.inf).astype(np.float32)
        ids = np.where(ok, ids, -1)
        order = np.argsort(-scores, axis=1, kind="stable")
        return pad(np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1), k)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if len(self) == 0 or k <= 0:
            return empty_result(len(q), k)
        if allowed is None:
            return self._search(q, k, None)
        rows = np.unique(self.rows_of(allowed))
        if len(rows) == 0:
            return empty_result(len(q), k)
        if self.is_selective(len(rows)):
            return exact_top(q, self.vectors(rows), self._row_ids[rows], k)
        return self._search(q, k, rows)

    # -- what each back end provides -------------------------------------------------------

    @abstractmethod
    def _search(
        self, q: np.ndarray, k: int, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top ``k`` over the live rows (only ``rows`` when given)."""

    @abstractmethod
    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` (float32), for exact scoring."""

    @abstractmethod
    def build(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        """Replace the contents, reporting each vector added to ``progress``."""

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        """Add (or replace) ``ids`` with their ``vectors``."""

    def remove(self, ids: np.ndarray) -> None:
        """Drop ``ids``; ids the index does not hold are ignored."""
        self._kill(self.rows_of(ids))

    def needs_rebuild(self) -> bool:
        return self.dead_share() > MAX_DEAD_SHARE

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The parameters it was built with, as JSON (recorded beside its files)."""

    @abstractmethod
    def save(self, folder: Path, tag: str) -> list[str]:
        """Write the index's files into ``folder`` (names starting with ``tag``); returns
        the names of every file it needs, for ``load``."""

    @abstractmethod
    def load(self, folder: Path, files: list[str], mmap: bool) -> None:
        """Read what ``save`` wrote; ``mmap`` maps large parts from disk instead of reading
        them (for searching only: a mapped index is not updated)."""
