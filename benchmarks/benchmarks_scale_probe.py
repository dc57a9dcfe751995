"""Run by benchmarks/scale.py in a fresh process: the RSS that loading a saved index
(memory-mapped, or read into RAM) and answering the queries adds, and the total after. The
index's files are dropped from the page cache first, so mapped pages count only when a
query touched them (a warm cache would let the kernel map pages around each touch)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _rss_mb() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "RssAnon:", "RssFile:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


def probe(
    kind: str,
    folder: str,
    files: list[str],
    params: dict[str, Any],
    queries: str,
    mmap: bool = True,
) -> dict[str, float]:
    from xmodal.index.hnsw import HnswIndex
    from xmodal.index.ivfpq import IvfPqIndex

    q = np.load(queries)
    for name in files:
        # start cold: none of the index's pages in the page cache (only its own files')
        path = Path(folder) / name
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
    before = _rss_mb()
    idx: Any = HnswIndex(**params) if kind == "hnsw" else IvfPqIndex(**params)
    idx.load(Path(folder), files, mmap=mmap)
    for row in q:
        idx.search(row[None, :], 10)
    after = _rss_mb()
    out = {key: round(after[key] - before[key], 1) for key in after if key != "VmHWM"}
    out["total_VmRSS"] = round(after["VmRSS"], 1)
    out["total_VmHWM"] = round(after["VmHWM"], 1)
    vec = getattr(idx, "_vec", None)
    if vec is not None:
        out["bytes_read_per_query"] = round(vec.bytes_read / max(len(q), 1))
    return out
