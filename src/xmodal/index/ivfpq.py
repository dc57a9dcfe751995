"""IVF-PQ (FAISS ``IndexIVFPQ``): tens of millions of vectors in well under a gigabyte.

Each vector is kept in RAM as ``m`` bytes of product-quantised code plus its 8-byte row; the
lists are memory-mapped when searching. PQ scores alone rank poorly, so every query takes
``rerank`` times ``k`` candidates from the lists and re-scores them with the exact vectors,
which live on disk (float32, or float16 to halve the file) and are read per candidate.
Below ``min_train`` vectors there is nothing worth quantising: the index scans its vectors.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from xmodal.atomic import atomic_path
from xmodal.index.base import register_index
from xmodal.index.hnsw import bitmap_selector
from xmodal.index.updatable import UpdatableIndex, exact_top
from xmodal.index.vecfile import VectorFile
from xmodal.progress import Progress

DEFAULT_M = 32
DEFAULT_NPROBE = 32
#: candidates re-ranked, times k: at 16 recall@10 was 0.80 at 1M (m = 32), at 64 it was 1.00
#: for little more time (docs/benchmarks.md, "ANN at 1M and 10M")
DEFAULT_RERANK = 64
MIN_TRAIN = 10_000
#: the index asks for a rebuild when it has grown this many times past what it was trained on
MAX_GROWTH = 4


def pq_subquantizers(dim: int, wanted: int) -> int:
    """The largest count of sub-quantisers at most ``wanted`` that divides ``dim``."""
    return max(m for m in range(1, min(wanted, dim) + 1) if dim % m == 0)


def list_count(n: int) -> int:
    """Inverted lists for ``n`` vectors: about sqrt(n), a power of two, 64 to 65536 (more
    lists search faster but train slower; at sqrt(n) a million trains in about a minute)."""
    return int(min(65536, max(64, 2 ** round(np.log2(np.sqrt(max(n, 1)))))))


@register_index("ivfpq")
class IvfPqIndex(UpdatableIndex):
    def __init__(
        self,
        m: int = DEFAULT_M,
        nprobe: int = DEFAULT_NPROBE,
        rerank: int = DEFAULT_RERANK,
        store: str = "float32",
        nlist: int = 0,
        min_train: int = MIN_TRAIN,
        workdir: Path | None = None,
    ) -> None:
        super().__init__()
        self.m, self.nprobe, self.rerank, self.store = m, nprobe, rerank, store
        self.nlist, self.min_train, self.workdir = nlist, min_train, workdir
        self.trained_on = 0
        self._ivf: faiss.Index | None = None
        self._vec: VectorFile | None = None

    def params(self) -> dict[str, Any]:
        return {
            "m": self.m,
            "nprobe": self.nprobe,
            "rerank": self.rerank,
            "store": self.store,
            "nlist": self.nlist,
            "min_train": self.min_train,
        }

    def build(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        n, dim = np.shape(vectors)
        self._row_ids, self._sorted, self._live = np.empty(0, dtype=np.int64), None, None
        self._ivf = None
        self._vec = VectorFile.create(self.workdir, dim, self.store, "ivfpq-")
        if n >= self.min_train:
            self._ivf = self._trained(vectors)
        self.add(ids, vectors, progress)

    def _trained(self, vectors: np.ndarray) -> faiss.Index:
        n, dim = np.shape(vectors)
        nlist = self.nlist or list_count(n)
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFPQ(
            quantizer, dim, nlist, pq_subquantizers(dim, self.m), 8, faiss.METRIC_INNER_PRODUCT
        )
        take = min(n, max(30 * nlist, 50_000))
        pick = np.sort(np.random.default_rng(0).choice(n, take, replace=False))
        ivf.train(np.ascontiguousarray(vectors[pick], dtype=np.float32))
        self.trained_on = n
        return ivf

    def add(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        if self._vec is None:
            self._vec = VectorFile.create(self.workdir, np.shape(vectors)[1], self.store, "ivfpq-")
        if len(ids) == 0:
            return
        old = self.rows_of(ids)
        if self._ivf is not None and len(old):
            self._ivf.remove_ids(faiss.IDSelectorBatch(old))
        rows = self._append_rows(ids)
        for start in range(0, len(ids), 65536):
            chunk = np.ascontiguousarray(vectors[start : start + 65536], dtype=np.float32)
            self._vec.append(chunk)
            if self._ivf is not None:
                self._ivf.add_with_ids(chunk, rows[start : start + len(chunk)])
            if progress is not None:
                progress.update(len(chunk))

    def remove(self, ids: np.ndarray) -> None:
        rows = self.rows_of(ids)
        if self._ivf is not None and len(rows):
            self._ivf.remove_ids(faiss.IDSelectorBatch(rows))
        self._kill(rows)

    def needs_rebuild(self) -> bool:
        if self._ivf is None:
            return len(self) >= self.min_train
        return super().needs_rebuild() or len(self) > MAX_GROWTH * self.trained_on

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        assert self._vec is not None
        return self._vec.get(rows)

    def _search(
        self, q: np.ndarray, k: int, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if self._ivf is None:
            live = np.flatnonzero(self._row_ids >= 0) if rows is None else rows
            return exact_top(q, self.vectors(live), self._row_ids[live], k)
        params = faiss.SearchParametersIVF()
        params.nprobe = self.nprobe
        bits = None
        if rows is not None:
            params.sel, bits = bitmap_selector(rows, self.rows)
        _, labels = self._ivf.search(q, max(self.rerank * k, k), params=params)
        del bits
        return self._rescored(q, labels, k)

    def _rescored(self, q: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The candidates ``labels`` (rows, -1 for none) scored exactly, best ``k`` first."""
        scores = np.full(labels.shape, -np.inf, dtype=np.float32)
        for n in range(len(q)):
            ok = labels[n] >= 0
            scores[n, ok] = self.vectors(labels[n, ok]) @ q[n]
        kk = min(k, labels.shape[1])
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, 1)
        return self._labels_to_ids(
            np.take_along_axis(scores, top, 1), np.take_along_axis(labels, top, 1), k, True
        )

    def save(self, folder: Path, tag: str) -> list[str]:
        assert self._vec is not None
        self._vec.flush()
        if self._vec.path.parent == folder:
            vec_name = self._vec.path.name
        else:
            vec_name = f"{tag}.f"
            with atomic_path(folder / vec_name) as tmp:
                shutil.copyfile(self._vec.path, tmp)
        names = [f"{tag}.ivf" if self._ivf is not None else "-", vec_name, f"{tag}.rows.npy"]
        if self._ivf is not None:
            with atomic_path(folder / names[0]) as tmp:
                faiss.write_index(self._ivf, str(tmp))
        with atomic_path(folder / names[2]) as tmp, open(tmp, "wb") as f:
            np.save(f, np.array([self.trained_on, self._vec.dim], dtype=np.int64))
            np.save(f, self._row_ids)
        return names

    def load(self, folder: Path, files: list[str], mmap: bool) -> None:
        with open(folder / files[2], "rb") as f:
            trained_on, dim = (int(v) for v in np.load(f))
            row_ids = np.load(f)
        ivf = None
        if files[0] != "-":
            ivf = faiss.read_index(str(folder / files[0]), faiss.IO_FLAG_MMAP if mmap else 0)
            if ivf.ntotal != int(np.count_nonzero(row_ids >= 0)):
                raise ValueError("IVF-PQ files do not agree")
        self._vec = VectorFile(folder / files[1], dim, self.store, len(row_ids))
        self._ivf, self._row_ids, self.trained_on = ivf, row_ids, trained_on
        self._sorted = self._live = None
