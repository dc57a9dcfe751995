"""Run by benchmarks/scale.py in a fresh process: the RSS that loading a saved index
(memory-mapped, or read into RAM) and answering the queries adds, and the total after."""

from __future__ import annotations

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
    before = _rss_mb()
    idx: Any = HnswIndex(**params) if kind == "hnsw" else IvfPqIndex(**params)
    idx.load(Path(folder), files, mmap=mmap)
    for row in q:
        idx.search(row[None, :], 10)
    after = _rss_mb()
    out = {key: round(after[key] - before[key], 1) for key in after if key != "VmHWM"}
    out["total_VmRSS"] = round(after["VmRSS"], 1)
    out["total_VmHWM"] = round(after["VmHWM"], 1)
    return out
