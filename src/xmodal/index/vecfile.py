"""A growing file of fixed-width vectors, read row by row with positioned reads.

The approximate indexes re-score their candidates with the exact vectors kept here, so only
the rows a query touches are read. They are read with ``pread`` into a buffer the process
reuses rather than through a memory map: a mapped page stays in the process's resident set
once touched, so a long-running search over a file larger than RAM would show the file's
touched pages as its own memory; read pages stay in the kernel's page cache, which it
reclaims under pressure. Small files, whose pages all fit comfortably, are mapped, which is
faster per row (``MAP_BYTES``; ``benchmarks/scale_reads.py``).

Rows are only ever appended; a reader knows how many rows belong to it (its index's row
count), so bytes past that (an update that crashed half way) are never read, and the next
writer cuts them off before appending.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np

# files up to this size are memory-mapped (faster on cached pages, but every touched page
# joins the resident set, up to the whole file); larger ones are read with pread
MAP_BYTES = 2**30
# adjacent candidates closer than this are fetched in one read (the gap is read and dropped)
GAP_BYTES = 4096
# a read buffer up to this many rows is kept for the next query; a larger one is not
KEEP_ROWS = 16384


class VectorFile:
    def __init__(self, path: Path, dim: int, dtype: str, rows: int, owned: bool = False) -> None:
        self.path, self.dim, self.dtype, self.rows = path, dim, np.dtype(dtype), rows
        self._map: np.memmap | None = None
        self._fd: int | None = None
        self._local = threading.local()
        self.bytes_read = 0
        self.reads = "auto"
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
        """The vectors of ``rows``, in that order, as float32."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.rows == 0 or len(rows) == 0:
            return np.empty((len(rows), self.dim), dtype=np.float32)
        mapped = self.reads == "mmap" or (
            self.reads == "auto" and self.rows * self.row_bytes <= MAP_BYTES
        )
        if mapped or not hasattr(os, "preadv"):
            return np.asarray(self._mapped()[rows], dtype=np.float32)
        return self._pread(rows)

    def _mapped(self) -> np.memmap:
        if self._map is None:
            self._map = np.memmap(self.path, self.dtype, "r", shape=(self.rows, self.dim))
            # candidates are scattered rows: reading ahead of each would page in the file
            with contextlib.suppress(AttributeError, OSError, ValueError):
                self._map._mmap.madvise(mmap.MADV_RANDOM)  # type: ignore[attr-defined]
        return self._map

    def _pread(self, rows: np.ndarray) -> np.ndarray:
        if rows.min() < 0 or rows.max() >= self.rows:
            raise IndexError("vector row out of range")
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        # runs of rows near enough to read in one call: sorted, neighbours coalesce
        gaps = np.diff(srt) * self.row_bytes > GAP_BYTES
        starts = np.concatenate(([0], np.flatnonzero(gaps) + 1))
        ends = np.append(starts[1:], len(srt))
        first, last = srt[starts], srt[ends - 1]
        counts = last - first + 1
        at = np.concatenate(([0], np.cumsum(counts)[:-1]))
        # where each sorted row lands in the buffer: its run's place plus its place in the run
        put = np.repeat(at - first, ends - starts) + srt
        span = int(counts.sum())
        buf = self._buffer(span)
        fd, rb = self._open(), self.row_bytes
        view = buf.data.cast("B")
        for pos, lo, n in zip(
            (at * rb).tolist(), (first * rb).tolist(), (counts * rb).tolist(), strict=True
        ):
            if os.preadv(fd, [view[pos : pos + n]], lo) != n:
                raise OSError(f"{self.path.name}: short read")
        self.bytes_read += span * rb
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        out[order] = buf[put]
        return out

    def _buffer(self, rows: int) -> np.ndarray:
        buf: np.ndarray | None = getattr(self._local, "buf", None)
        if buf is not None and len(buf) >= rows:
            return buf
        buf = np.empty((max(rows, 1024), self.dim), dtype=self.dtype)
        if rows <= KEEP_ROWS:
            # one per thread: concurrent searches must not share it
            self._local.buf = buf
        return buf

    def _open(self) -> int:
        if self._fd is None:
            fd = os.open(self.path, os.O_RDONLY)
            with contextlib.suppress(AttributeError, OSError):
                # scattered rows: a read must not pull the pages after it into the cache
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            self._fd = fd
            weakref.finalize(self, os.close, fd)
        return self._fd


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
