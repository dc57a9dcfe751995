"""Run by benchmarks/scale.py in a fresh process: the RSS that loading a saved index
memory-mapped and answering the queries adds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _rss_mb() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


def probe(
    kind: str, folder: str, files: list[str], params: dict[str, Any], queries: str
) -> dict[str, float]:
    from xmodal.index.hnsw import HnswIndex
    from xmodal.index.ivfpq import IvfPqIndex

    q = np.load(queries)
    before = _rss_mb()
    idx: Any = HnswIndex(**params) if kind == "hnsw" else IvfPqIndex(**params)
    idx.load(Path(folder), files, mmap=True)
    for row in q:
        idx.search(row[None, :], 10)
    after = _rss_mb()
    return {key: round(after[key] - before[key], 1) for key in after}
