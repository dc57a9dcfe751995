"""Approximate indexes at scale: recall@10 against exact, p50/p99 latency of one query, build
time and RAM per vector, and the same search through the raw FAISS object at the same
parameters (the latency ratio is ours over FAISS's, measured in the same run).

Vectors: anisotropic clustered synthetic vectors, 512 dimensions, unit length: 2,000 cluster
centres drawn from a Gaussian with a power-law spectrum, points spread around them with
another power-law spectrum, rotated at random (a neighbour structure like image embeddings:
most variance in few directions, neighbours mostly inside a cluster). Queries are fresh
points from the same mixture.

    python benchmarks/scale.py --n 100000 --kinds exact,hnsw,ivfpq
    python benchmarks/scale.py --n 1000000 --kinds exact,hnsw,ivfpq
    python benchmarks/scale.py --n 10000000 --kinds ivfpq --m 32 --store float16   # compressed
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from xmodal.index.exact import FaissFlatIndex
from xmodal.index.hnsw import HnswIndex
from xmodal.index.ivfpq import IvfPqIndex

DIM = 512


def mixture(n: int, seed: int, dim: int = DIM, clusters: int = 2000) -> np.ndarray:
    base = np.random.default_rng(12345)
    spectrum = (np.arange(1, dim + 1) ** -0.6).astype(np.float32)
    rot, _ = np.linalg.qr(base.standard_normal((dim, dim)).astype(np.float32))
    centres = base.standard_normal((clusters, dim)).astype(np.float32) * spectrum
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        lab = rng.integers(0, clusters, m)
        x = centres[lab] + 0.35 * rng.standard_normal((m, dim)).astype(np.float32) * spectrum
        x = x @ rot
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def truth(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    flat = faiss.IndexFlatIP(x.shape[1])
    for start in range(0, len(x), 500_000):
        flat.add(x[start : start + 500_000])
    return flat.search(q, k)[1]


def recall(got: np.ndarray, gt: np.ndarray) -> float:
    k = gt.shape[1]
    return float(np.mean([len(set(a[:k]) & set(b)) / k for a, b in zip(got, gt, strict=True)]))


def latencies(search: Any, q: np.ndarray) -> tuple[np.ndarray, list[float]]:
    out, lat = [], []
    for row in q:
        t = time.perf_counter()
        out.append(search(row[None, :]))
        lat.append(time.perf_counter() - t)
    return np.concatenate(out), lat


def ms(lat: list[float], p: float) -> float:
    return round(float(np.percentile(lat, p)) * 1000, 3)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def loaded_rss(
    kind: str, folder: str, files: list[str], params: dict[str, Any], q: str
) -> dict[str, float]:
    """RSS (MB) a fresh process adds by loading the saved index memory-mapped and searching."""
    code = f"""
import sys, json, numpy as np
sys.path.insert(0, {os.path.join(os.path.dirname(__file__), "..", "src")!r})
from benchmarks_scale_probe import probe
print(json.dumps(probe({kind!r}, {folder!r}, {files!r}, {params!r}, {q!r})))
"""
    env = {**os.environ, "PYTHONPATH": os.path.dirname(__file__)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def bench_one(kind: str, x: np.ndarray, q: np.ndarray, gt: np.ndarray, args: Any) -> dict[str, Any]:
    ids = np.arange(len(x), dtype=np.int64)
    work = Path(tempfile.mkdtemp(prefix="xmodal-scale-"))
    if kind == "exact":
        idx: Any = FaissFlatIndex()
    elif kind == "hnsw":
        idx = HnswIndex(ef_search=args.ef)
    else:
        idx = IvfPqIndex(
            m=args.m, nprobe=args.nprobe, rerank=args.rerank, store=args.store, workdir=work
        )
    t = time.perf_counter()
    idx.build(ids, x)
    build = time.perf_counter() - t
    got, lat = latencies(lambda r: idx.search(r, 10)[1], q)
    row: dict[str, Any] = {
        "kind": kind,
        "n": len(x),
        "build_s": round(build, 1),
        "recall@10": round(recall(got, gt), 4),
        "p50_ms": ms(lat, 50),
        "p99_ms": ms(lat, 99),
    }
    raw = raw_search(kind, idx, args)
    if raw is not None:
        _, raw_lat = latencies(raw, q)
        row["raw_p50_ms"] = ms(raw_lat, 50)
        row["ratio_p50"] = round(row["p50_ms"] / row["raw_p50_ms"], 3)
    if kind != "exact":
        files = idx.save(work, kind)
        qpath = str(work / "q.npy")
        np.save(qpath, q)
        rss = loaded_rss(kind, str(work), files, idx.params(), qpath)
        row["rss_mb_loaded"], row["rss_anon_mb"] = rss["VmRSS"], rss["RssAnon"]
        row["bytes_per_vector_ram"] = round(rss["RssAnon"] * 2**20 / len(x), 1)
        row["disk_mb"] = round(sum(os.path.getsize(work / f) for f in files if f != "-") / 2**20)
    return row


def raw_search(kind: str, idx: Any, args: Any) -> Any:
    """The same FAISS object searched directly with the same parameters."""
    if kind == "exact":
        flat = idx._index
        return lambda r: flat.search(r, 10)[1]
    if kind == "hnsw":
        params = faiss.SearchParametersHNSW()
        params.efSearch = args.ef
        graph = idx._index
        return lambda r: graph.search(r, 10, params=params)[1]
    if idx._ivf is None:
        return None
    if args.store != "float32":
        return None
    exact = faiss.IndexFlatIP(idx._vec.dim)
    for start in range(0, idx._vec.rows, 100_000):
        exact.add(idx._vec.get(np.arange(start, min(start + 100_000, idx._vec.rows))))
    refine = faiss.IndexRefine(idx._ivf, exact)
    params = faiss.IVFSearchParameters()
    params.nprobe = args.nprobe
    rparams = faiss.IndexRefineSearchParameters(
        k_factor=float(args.rerank), base_index_params=params
    )
    return lambda r: refine.search(r, 10, params=rparams)[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--kinds", default="exact,hnsw,ivfpq")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--ef", type=int, default=96)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--nprobe", type=int, default=32)
    ap.add_argument("--rerank", type=int, default=16)
    ap.add_argument("--store", default="float32", choices=("float32", "float16"))
    ap.add_argument("--out", help="append the rows as JSON lines to this file")
    args = ap.parse_args()
    t = time.perf_counter()
    x = mixture(args.n, seed=1)
    q = mixture(args.queries, seed=2)
    gt = truth(x, q, 10)
    print(f"# vectors and ground truth: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    for kind in args.kinds.split(","):
        row = bench_one(kind, x, q, gt, args)
        row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps({**row, **vars(args)}) + "\n")


if __name__ == "__main__":
    main()
