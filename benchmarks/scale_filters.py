"""Recall of filtered searches through the approximate indexes: for filters letting through a
share of the rows (random, as a tag or a date range over unrelated items would), recall@10
against the exact top 10 over the allowed rows, p50 of one query, and which path answered
(the index's own filtered walk, or the exact search over the allowed rows that
``index/updatable.py`` switches to for selective filters).

    python benchmarks/scale_filters.py --n 100000 --cache /tmp/xmodal-scale
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from scale import cached_mixture, mixture, recall
from xmodal.index.hnsw import HnswIndex
from xmodal.index.ivfpq import IvfPqIndex
from xmodal.index.updatable import UpdatableIndex, exact_top

SHARES = (0.5, 0.2, 0.1, 0.06, 0.05, 0.01)


def exact_allowed(x: np.ndarray, q: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The true top 10 of each query over the allowed rows only (ids are row numbers)."""
    vecs = np.asarray(x[allowed], dtype=np.float32)
    return exact_top(q, vecs, allowed, 10)[1]


def measure(
    idx: UpdatableIndex, x: np.ndarray, q: np.ndarray, share: float, seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    allowed = np.sort(rng.choice(len(x), int(share * len(x)), replace=False)).astype(np.int64)
    gt = exact_allowed(x, q, allowed)
    rows = np.unique(idx.rows_of(allowed))
    got, lat, walked, walk_lat = [], [], [], []
    for row in q:
        t = time.perf_counter()
        got.append(idx.search(row[None, :], 10, allowed)[1])
        lat.append(time.perf_counter() - t)
        # the index's own filtered walk, whatever the share: what the switch saves
        t = time.perf_counter()
        walked.append(idx._search(row[None, :], 10, rows)[1])
        walk_lat.append(time.perf_counter() - t)
    return {
        "share": share,
        "allowed": len(allowed),
        "path": "exact over allowed" if idx.is_selective(len(allowed)) else "filtered index walk",
        "recall@10": round(recall(np.concatenate(got), gt), 4),
        "p50_ms": round(float(np.median(lat)) * 1000, 3),
        "walk_recall@10": round(recall(np.concatenate(walked), gt), 4),
        "walk_p50_ms": round(float(np.median(walk_lat)) * 1000, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--cache", help="folder keeping the generated vectors between runs")
    ap.add_argument("--out", help="append the rows as JSON lines to this file")
    args = ap.parse_args()
    x = cached_mixture(args.cache, args.n, seed=1)
    q = mixture(args.queries, seed=2)
    ids = np.arange(len(x), dtype=np.int64)
    with tempfile.TemporaryDirectory() as work:
        kinds: dict[str, UpdatableIndex] = {
            "hnsw M=32 efC=80 ef=96": HnswIndex(m=32, ef_construction=80, ef_search=96),
            "ivfpq m=32 nprobe=32 rerank 64k": IvfPqIndex(
                m=32, nprobe=32, rerank=64, workdir=Path(work)
            ),
        }
        for name, idx in kinds.items():
            t = time.perf_counter()
            idx.build(ids, np.asarray(x, dtype=np.float32))
            built = time.perf_counter() - t
            for i, share in enumerate(SHARES):
                row = {"index": name, "n": len(x), "build_s": round(built)}
                row.update(measure(idx, x, q, share, i))
                row["loadavg"] = os.getloadavg()
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
