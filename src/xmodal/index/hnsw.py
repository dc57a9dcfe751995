"""HNSW graphs (FAISS ``IndexHNSWFlat``): sub-millisecond search at a million vectors.

FAISS was measured against usearch at the same graph parameters (docs/benchmarks.md, "HNSW
back end"): recall and latency were within a few percent; FAISS filters inside the graph walk
(an ``IDSelector``), which keeps filtered searches that are not selective correct, and is
already a dependency. The graph cannot drop nodes, so removals are tombstones: dead rows are
skipped by a bitmap selector, and the index asks to be rebuilt once they pile up.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from xmodal.atomic import atomic_path
from xmodal.index.base import register_index
from xmodal.index.updatable import UpdatableIndex
from xmodal.progress import Progress

#: graph degree, construction and search beam: recall@10 >= 0.95 at 1M (docs/benchmarks.md)
DEFAULT_M = 32
DEFAULT_EF_CONSTRUCTION = 80
DEFAULT_EF_SEARCH = 96
#: a filtered walk passes over the nodes its filter drops, so its beam widens as the share let
#: through shrinks: by 1/sqrt(share), recall@10 stayed >= 0.97 down to a 1% filter where the
#: plain beam fell to 0.36 (docs/benchmarks.md, "Filters with approximate indexes")
MAX_FILTERED_EF = 4096


def filtered_ef(ef: int, share: float) -> int:
    """The beam for a walk whose filter lets through ``share`` of the graph's nodes."""
    return min(MAX_FILTERED_EF, max(ef, math.ceil(ef / math.sqrt(max(share, 1e-6)))))


def bitmap_selector(rows: np.ndarray, n: int) -> tuple[faiss.IDSelector, np.ndarray]:
    """A selector letting through ``rows`` of ``n`` (and the bits it reads, to keep alive)."""
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits)), bits


@register_index("hnsw")
class HnswIndex(UpdatableIndex):
    def __init__(
        self,
        m: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> None:
        super().__init__()
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        self._index: faiss.IndexHNSWFlat | None = None

    def params(self) -> dict[str, Any]:
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}

    def _new(self, dim: int) -> faiss.IndexHNSWFlat:
        index = faiss.IndexHNSWFlat(dim, self.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        return index

    def build(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        self._row_ids = np.empty(0, dtype=np.int64)
        self._sorted = self._live = None
        self._index = self._new(np.shape(vectors)[1])
        self.add(ids, vectors, progress)

    def add(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        if self._index is None:
            self._index = self._new(np.shape(vectors)[1])
        if len(ids) == 0:
            return
        self._append_rows(ids)
        # in slices, so a memory-mapped source is never copied whole
        for start in range(0, len(ids), 65536):
            chunk = np.ascontiguousarray(vectors[start : start + 65536], dtype=np.float32)
            self._index.add(chunk)
            if progress is not None:
                progress.update(len(chunk))

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        assert self._index is not None
        return np.asarray(self._index.reconstruct_batch(np.asarray(rows, dtype=np.int64)))

    def _search(
        self, q: np.ndarray, k: int, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self._index is not None
        if rows is None and len(self) < self.rows:
            rows = np.flatnonzero(self._row_ids >= 0)
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = max(self.ef_search, k)
        bits = None
        if rows is not None:
            params.sel, bits = bitmap_selector(rows, self.rows)
            params.efSearch = filtered_ef(params.efSearch, len(rows) / self.rows)
        kk = min(k, len(self))
        scores, labels = self._index.search(q, kk, params=params)
        del bits
        return self._labels_to_ids(scores, labels, k, ordered=True)

    def save(self, folder: Path, tag: str) -> list[str]:
        assert self._index is not None
        names = [f"{tag}.hnsw", f"{tag}.rows.npy"]
        with atomic_path(folder / names[0]) as tmp:
            faiss.write_index(self._index, str(tmp))
        with atomic_path(folder / names[1]) as tmp, open(tmp, "wb") as f:
            np.save(f, self._row_ids)
        return names

    def load(self, folder: Path, files: list[str], mmap: bool) -> None:
        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
        index = faiss.read_index(str(folder / files[0]), flags)
        row_ids = np.load(folder / files[1])
        if not isinstance(index, faiss.IndexHNSWFlat) or index.ntotal != len(row_ids):
            raise ValueError("HNSW files do not agree")
        self._index, self._row_ids = index, row_ids
        self._sorted = self._live = None
