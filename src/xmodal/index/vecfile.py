"""A growing file of fixed-width vectors, read through a memory map.

The approximate indexes re-score their candidates with the exact vectors kept here, so only
the rows a query touches are paged in. Rows are only ever appended; a reader knows how many
rows belong to it (its index's row count), so bytes past that (an update that crashed half
way) are never read, and the next writer cuts them off before appending.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import tempfile
import weakref
from pathlib import Path

import numpy as np


class VectorFile:
    def __init__(self, path: Path, dim: int, dtype: str, rows: int, owned: bool = False) -> None:
        self.path, self.dim, self.dtype, self.rows = path, dim, np.dtype(dtype), rows
        self._map: np.memmap | None = None
        need = rows * self.row_bytes
        if path.stat().st_size < need:
            raise ValueError(f"{path.name} holds fewer than {rows} vectors")
        if owned:
            # a scratch file of an index that was never saved
            weakref.finalize(self, _unlink, path)

    @classmethod
    def create(cls, folder: Path | None, dim: int, dtype: str, prefix: str = "") -> VectorFile:
        if folder is None:
            fd, name = tempfile.mkstemp(prefix="xmodal-vectors-", suffix=".f")
            os.close(fd)
            return cls(Path(name), dim, dtype, 0, owned=True)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{prefix}vectors-{secrets.token_hex(6)}.f"
        path.touch()
        return cls(path, dim, dtype, 0)

    @property
    def row_bytes(self) -> int:
        return self.dim * self.dtype.itemsize

    def append(self, vectors: np.ndarray) -> None:
        data = np.ascontiguousarray(vectors, dtype=self.dtype)
        with open(self.path, "r+b") as f:
            f.truncate(self.rows * self.row_bytes)
            f.seek(0, os.SEEK_END)
            f.write(data.tobytes())
        self.rows += len(data)
        self._map = None

    def flush(self) -> None:
        with open(self.path, "rb") as f:
            os.fsync(f.fileno())

    def get(self, rows: np.ndarray) -> np.ndarray:
        if self.rows == 0:
            return np.empty((len(rows), self.dim), dtype=np.float32)
        if self._map is None:
            self._map = np.memmap(self.path, self.dtype, "r", shape=(self.rows, self.dim))
            # candidates are scattered rows: reading ahead of each would page in the file
            with contextlib.suppress(AttributeError, OSError, ValueError):
                self._map._mmap.madvise(mmap.MADV_RANDOM)  # type: ignore[attr-defined]
        return np.asarray(self._map[np.asarray(rows, dtype=np.int64)], dtype=np.float32)


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
