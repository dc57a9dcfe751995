"""The compressed mode at tens of millions of vectors: IVF-PQ codes in RAM, float16 exact
vectors read from disk for the re-ranking, on the mixture of benchmarks/scale.py.

The vectors are generated in 100k chunks straight into a float16 file (10 GB at 10M x 512),
the quantisers are trained on a sample, the index takes the vectors in chunks, and the
ground truth is an exact scan of the float16 vectors in chunks. RAM at query time is
measured in a fresh process that loads the saved index (the codes read into RAM, the
vector file read row by row) and answers the queries.

    python benchmarks/scale_compressed.py --n 10000000 --cache /work/scale-cache \
        --nlist 1024 --nprobes 16,32,64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from scale import cached_mixture, cached_truth, latencies, loaded_rss, mixture, ms, recall, top10
from xmodal.index.ivfpq import IvfPqIndex


class Ticks:
    """Progress to stderr every million vectors (the run goes to a log file)."""

    def __init__(self, total: int, t0: float) -> None:
        self.done, self.total, self.t0 = 0, total, t0

    def update(self, n: int = 1) -> None:
        before, self.done = self.done, self.done + n
        if self.done // 1_000_000 > before // 1_000_000 or self.done == self.total:
            took = time.perf_counter() - self.t0
            print(f"# added {self.done:,}/{self.total:,} in {took:.0f} s", file=sys.stderr)

    def close(self) -> None:
        pass


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--m", type=int, default=32, help="bytes of PQ code per vector")
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--nprobes", default="16,32,64")
    ap.add_argument("--rerank", type=int, default=16)
    ap.add_argument("--reranks", default="16", help="re-ranking factors to sweep")
    ap.add_argument("--reuse", help="index folder an earlier run saved: load, do not build")
    ap.add_argument(
        "--rss-reranks", help="measure RAM at each of these re-ranking factors (default: one)"
    )
    ap.add_argument("--cache", required=True, help="folder for the vectors and ground truth")
    ap.add_argument("--out", help="append the result as a JSON line to this file")
    return ap.parse_args()


def built(args: argparse.Namespace, x: np.ndarray) -> tuple[IvfPqIndex, Path, dict[str, Any]]:
    """The index over ``x``: built into a new folder, or loaded from ``--reuse``."""
    params = {"m": args.m, "rerank": args.rerank, "store": "float16", "nlist": args.nlist}
    row: dict[str, Any] = {"n": args.n}
    if args.reuse:
        work = Path(args.reuse)
        idx = IvfPqIndex(**params)
        vec = next(p.name for p in work.glob("ivfpq-vectors-*.f"))
        idx.load(work, ["ivfpq.ivf", vec, "ivfpq.rows.npy"], mmap=False)
        row["reused"] = str(work)
    else:
        work = Path(tempfile.mkdtemp(prefix="xmodal-compressed-", dir=args.cache))
        idx = IvfPqIndex(**params, workdir=work)
        t = time.perf_counter()
        idx.build(np.arange(args.n, dtype=np.int64), x, Ticks(args.n, t))
        row["build_s"] = round(time.perf_counter() - t, 1)
        row["build_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10)
    row["params"] = idx.params()
    return idx, work, row


def sweep(idx: IvfPqIndex, q: np.ndarray, gt: np.ndarray, args: Any) -> list[dict[str, Any]]:
    out = []
    for rerank in (int(v) for v in args.reranks.split(",")):
        for nprobe in (int(v) for v in args.nprobes.split(",")):
            idx.nprobe, idx.rerank = nprobe, rerank
            got, lat = latencies(top10(idx), q)
            point = {"nprobe": nprobe, "rerank": rerank, "recall@10": round(recall(got, gt), 4)}
            point.update({"p50_ms": ms(lat, 50), "p99_ms": ms(lat, 99)})
            out.append(point)
            print(json.dumps(point), file=sys.stderr, flush=True)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    x = cached_mixture(args.cache, args.n, seed=1, dtype="float16")
    q = mixture(args.queries, seed=2)
    made = time.perf_counter() - t
    gt = cached_truth(args.cache, x, q, 10)
    print(f"# vectors {made:.0f} s, truth {time.perf_counter() - t - made:.0f} s", file=sys.stderr)
    idx, work, row = built(args, x)
    row["sweep"] = sweep(idx, q, gt, args)
    if args.reuse:
        assert idx._vec is not None
        files = ["ivfpq.ivf", idx._vec.path.name, "ivfpq.rows.npy"]
    else:
        files = idx.save(work, "ivfpq")
    del idx
    qpath = str(work / "q.npy")
    np.save(qpath, q)
    # RAM at the fastest setting that reaches recall 0.9, else at the most accurate one
    good = [p for p in row["sweep"] if p["recall@10"] >= 0.9]
    pick = (
        min(good, key=lambda p: p["p50_ms"])
        if good
        else max(row["sweep"], key=lambda p: p["recall@10"])
    )
    probe_params = {**row["params"], "nprobe": pick["nprobe"], "rerank": pick["rerank"]}
    row["probe_setting"] = {"nprobe": pick["nprobe"], "rerank": pick["rerank"]}
    if args.rss_reranks:
        row["rss_by_rerank"] = {}
        for rerank in (int(v) for v in args.rss_reranks.split(",")):
            at = {**probe_params, "rerank": rerank}
            got = loaded_rss("ivfpq", str(work), files, at, qpath, False)
            row["rss_by_rerank"][rerank] = got
            print(json.dumps({"rerank": rerank, "rss": got}), file=sys.stderr, flush=True)
    else:
        row["rss_codes_in_ram"] = loaded_rss("ivfpq", str(work), files, probe_params, qpath, False)
        row["rss_mmap"] = loaded_rss("ivfpq", str(work), files, probe_params, qpath, True)
    row["files_mb"] = {f: round(os.path.getsize(work / f) / 2**20) for f in files}
    row["ivf_bytes_per_vector"] = round(os.path.getsize(work / files[0]) / args.n, 1)
    row["loadavg"] = os.getloadavg()
    return row


def main() -> None:
    args = arguments()
    row = run(args)
    print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps({**row, "args": vars(args)}) + "\n")


if __name__ == "__main__":
    main()
