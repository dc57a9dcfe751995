"""Re-ranking reads: ``pread`` into a reused buffer against the memory map, on a saved IVF-PQ
index and the same queries. Each query is answered once with each read (order alternating
query by query) after a warm-up pass that brings the candidates' pages into the page cache,
so the ratio compares the two ways of reading cached pages, not the disk.

    python benchmarks/scale_reads.py --folder WORK/xmodal-scale-IVFPQ --nprobe 32 \
        --reranks 16,64 --out reads.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from xmodal.index.ivfpq import IvfPqIndex


def loaded(folder: Path, store: str) -> IvfPqIndex:
    idx = IvfPqIndex(store=store)
    vec = next(p.name for p in folder.glob("ivfpq-vectors-*.f"))
    idx.load(folder, ["ivfpq.ivf", vec, "ivfpq.rows.npy"], mmap=False)
    return idx


def timed(idx: IvfPqIndex, q: np.ndarray) -> dict[str, Any]:
    assert idx._vec is not None
    lat: dict[str, list[float]] = {"pread": [], "mmap": []}
    answers: dict[str, list[np.ndarray]] = {"pread": [], "mmap": []}
    for i, row in enumerate(q):
        modes = ("pread", "mmap") if i % 2 == 0 else ("mmap", "pread")
        for mode in modes:
            idx._vec.reads = mode
            t = time.perf_counter()
            _, ids = idx.search(row[None, :], 10)
            lat[mode].append(time.perf_counter() - t)
            answers[mode].append(ids)
    same = all(np.array_equal(a, b) for a, b in zip(answers["pread"], answers["mmap"], strict=True))
    p50 = {m: statistics.median(v) * 1e3 for m, v in lat.items()}
    ratios = [a / b for a, b in zip(lat["pread"], lat["mmap"], strict=True)]
    return {
        "pread_p50_ms": round(p50["pread"], 3),
        "mmap_p50_ms": round(p50["mmap"], 3),
        "ratio_of_p50": round(p50["pread"] / p50["mmap"], 3),
        "median_ratio": round(statistics.median(ratios), 3),
        "same_answers": same,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--folder", required=True, help="a folder scale.py or scale_compressed.py saved"
    )
    ap.add_argument("--store", default="float32", help="dtype of the saved vector file")
    ap.add_argument("--queries", type=int, default=0, help="first N of the saved q.npy (0: all)")
    ap.add_argument("--nprobe", type=int, default=32)
    ap.add_argument("--reranks", default="16,64")
    ap.add_argument("--out")
    args = ap.parse_args()
    folder = Path(args.folder)
    idx = loaded(folder, args.store)
    q = np.load(folder / "q.npy")
    q = q[: args.queries] if args.queries else q
    assert idx._vec is not None
    for rerank in (int(v) for v in args.reranks.split(",")):
        idx.nprobe, idx.rerank = args.nprobe, rerank
        idx._vec.reads = "mmap"
        for row in q:  # warm-up: the candidates' pages into the page cache
            idx.search(row[None, :], 10)
        before = idx._vec.bytes_read
        point = {"rows": idx.rows, "nprobe": args.nprobe, "rerank": rerank, **timed(idx, q)}
        point["bytes_read_per_query"] = round((idx._vec.bytes_read - before) / len(q))
        point["loadavg"] = os.getloadavg()
        print(json.dumps(point), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps({**point, "args": vars(args)}) + "\n")


if __name__ == "__main__":
    main()
