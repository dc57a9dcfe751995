"""Exact search: FAISS's flat inner-product index, and a plain NumPy scan as a reference."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faiss
import numpy as np

from xmodal.index.base import VectorIndex, pad, register_index

# faiss-cpu ships 128000 here, so every batch below that many queries took the scalar path:
# 6x slower than BLAS for 64 queries at 100k (docs/benchmarks.md). From 20 queries on, one
# matrix product wins; below, the scalar scan does.
BLAS_THRESHOLD = 20
faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD

# Below this many multiply-adds (queries x rows x dim) a search runs on one OpenMP thread:
# waking and joining the pool cost more than they save (4x slower at 100k x 512 with another
# process on a 2-core machine), and on the BLAS path OpenBLAS brings threads of its own.
_ONE_THREAD_WORK = 1 << 27


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    # OpenMP's thread count is a per-thread setting, so this does not leak into other threads
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class _SortedIds:
    _base = -1  # first id when the ids are consecutive, so that a row is id - base; else -1

    def _set_ids(self, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        # the store hands ids over sorted, and reordering would copy a matrix of gigabytes
        if len(ids) >= 2 and not bool(np.all(ids[1:] >= ids[:-1])):
            order = np.argsort(ids, kind="stable")
            ids, vectors = ids[order], vectors[order]
        self._ids = ids
        dense = len(ids) > 0 and int(ids[-1]) - int(ids[0]) == len(ids) - 1
        self._base = int(ids[0]) if dense and bool(np.all(np.diff(ids) == 1)) else -1
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _rows(self, allowed: np.ndarray) -> np.ndarray:
        allowed = np.asarray(allowed, dtype=np.int64)
        if self._base >= 0:
            # segment ids are mostly consecutive: arithmetic instead of a binary search
            pos = allowed - self._base
            return pos[(pos >= 0) & (pos < len(self._ids))]
        pos = np.searchsorted(self._ids, allowed)
        inside = pos < len(self._ids)
        pos, allowed = pos[inside], allowed[inside]
        return pos[self._ids[pos] == allowed]


@register_index("flat")
class FaissFlatIndex(_SortedIds, VectorIndex):
    """FAISS ``IndexFlatIP``: exact, multi-threaded, BLAS-backed."""

    def __init__(self) -> None:
        self._ids = np.empty(0, dtype=np.int64)
        self._index: faiss.Index | None = None

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        mat = self._set_ids(ids, vectors)
        self._index = faiss.IndexFlatIP(mat.shape[1])
        if len(mat):
            self._index.add(mat)

    def __len__(self) -> int:
        return len(self._ids)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if self._index is None or len(self._ids) == 0 or k <= 0:
            return pad(np.empty((len(q), 0), np.float32), np.empty((len(q), 0), np.int64), k)
        params = None
        if allowed is not None:
            rows = self._rows(allowed)
            if len(rows) == 0:
                return pad(np.empty((len(q), 0), np.float32), np.empty((len(q), 0), np.int64), k)
            # a bitmap over rows: built in O(n/8) and tested in O(1) per row, where a batch
            # selector hashes every allowed id on each call
            mask = np.zeros(len(self._ids), dtype=bool)
            mask[rows] = True
            bits = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        kk = min(k, len(self._ids))
        # a selector keeps FAISS on its scalar path, which scans only the allowed rows
        blas = params is None and len(q) >= BLAS_THRESHOLD
        work = len(q) * (len(self._ids) if params is None else len(rows)) * self._index.d
        if blas or work < _ONE_THREAD_WORK:
            with _omp_threads(1):
                scores, rows_out = self._index.search(q, kk, params=params)
        else:
            scores, rows_out = self._index.search(q, kk, params=params)
        ids = np.where(rows_out >= 0, self._ids[np.maximum(rows_out, 0)], -1)
        scores = np.where(rows_out >= 0, scores, -np.inf).astype(np.float32)
        return pad(scores, ids, k)


@register_index("numpy")
class NumpyExactIndex(_SortedIds, VectorIndex):
    """A matrix product and a partial sort: the reference the other indexes are tested against."""

    def __init__(self) -> None:
        self._ids = np.empty(0, dtype=np.int64)
        self._mat = np.empty((0, 0), dtype=np.float32)

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._mat = self._set_ids(ids, vectors)

    def __len__(self) -> int:
        return len(self._ids)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        ids, mat = self._ids, self._mat
        if allowed is not None:
            rows = self._rows(allowed)
            ids, mat = ids[rows], mat[rows]
        if len(ids) == 0 or k <= 0:
            return pad(np.empty((len(q), 0), np.float32), np.empty((len(q), 0), np.int64), k)
        sims = q @ mat.T
        kk = min(k, len(ids))
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        top_scores = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        return pad(np.take_along_axis(sims, top, axis=1), ids[top], k)
