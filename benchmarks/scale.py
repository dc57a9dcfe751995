"""Approximate indexes at scale: recall@10 against exact, p50/p99 latency of one query, build
time and RAM per vector, and the same search through the raw FAISS object at the same
parameters (ours and raw timed query by query in alternation, in the same run).

Vectors: anisotropic clustered synthetic vectors, 512 dimensions, unit length: 2,000 cluster
centres drawn from a Gaussian with a power-law spectrum, points spread around them with
another power-law spectrum, rotated at random (a neighbour structure like image embeddings:
most variance in few directions, neighbours mostly inside a cluster). Queries are fresh
points from the same mixture. ``--cache DIR`` keeps the generated vectors and ground truth
on disk (memory-mapped on the next run).

    python benchmarks/scale.py --n 100000 --kinds exact,hnsw,ivfpq
    python benchmarks/scale.py --n 1000000 --kinds hnsw,ivfpq --cache /tmp/xmodal-scale \
        --efs 32,64,96,128 --nprobes 8,16,32 --text e5-multilingual
    python benchmarks/scale_compressed.py --n 10000000      # the compressed mode
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
CHUNK = 100_000


def mixture(
    n: int, seed: int, dim: int = DIM, clusters: int = 2000, out: np.ndarray | None = None
) -> np.ndarray:
    """``n`` points of the mixture, written in 100k chunks into ``out`` (a memmap may do)."""
    base = np.random.default_rng(12345)
    spectrum = (np.arange(1, dim + 1) ** -0.6).astype(np.float32)
    rot, _ = np.linalg.qr(base.standard_normal((dim, dim)).astype(np.float32))
    centres = base.standard_normal((clusters, dim)).astype(np.float32) * spectrum
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32) if out is None else out
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        lab = rng.integers(0, clusters, m)
        x = centres[lab] + 0.35 * rng.standard_normal((m, dim)).astype(np.float32) * spectrum
        x = x @ rot
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def cached_mixture(cache: str | None, n: int, seed: int, dtype: str = "float32") -> np.ndarray:
    """The mixture, generated once into ``cache`` and memory-mapped from there after."""
    if cache is None:
        return mixture(n, seed).astype(dtype, copy=False)
    path = Path(cache) / f"mixture-{n}-{seed}-{dtype}.npy"
    # chunk by chunk, the first n points of a larger draw are the draw of n
    for larger in sorted(Path(cache).glob(f"mixture-*-{seed}-{dtype}.npy")):
        size = int(larger.name.split("-")[1])
        if not path.exists() and size > n and n % CHUNK == 0:
            return np.load(larger, mmap_mode="r")[:n]
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        out = np.lib.format.open_memmap(tmp, "w+", np.dtype(dtype), (n, DIM))
        mixture(n, seed, out=out)
        out.flush()
        del out
        os.replace(tmp, path)
    return np.load(path, mmap_mode="r")


def truth(x: np.ndarray, q: np.ndarray, k: int, chunk: int = 250_000) -> np.ndarray:
    """Exact top ``k`` of each query, scanning ``x`` in chunks (never all of it in RAM)."""
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.empty((len(q), 0), dtype=np.int64)
    qt = np.ascontiguousarray(q, dtype=np.float32).T
    for start in range(0, len(x), chunk):
        sims = np.asarray(x[start : start + chunk], dtype=np.float32) @ qt
        top = np.argpartition(-sims, k - 1, axis=0)[:k].T
        s = np.concatenate([best_s, np.take_along_axis(sims.T, top, 1)], axis=1)
        i = np.concatenate([best_i, top + start], axis=1)
        keep = np.argsort(-s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(s, keep, 1), np.take_along_axis(i, keep, 1)
    return best_i


def cached_truth(cache: str | None, x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    if cache is None:
        return truth(x, q, k)
    path = Path(cache) / f"truth-{len(x)}-{len(q)}-{k}.npy"
    if not path.exists():
        np.save(path, truth(x, q, k))
    return np.load(path)


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


def top10(idx: Any) -> Any:
    """One query's ten best ids through ``idx``'s own search."""
    return lambda r: idx.search(r, 10)[1]


def alternated(
    ours: Any, raw: Any, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[float], list[float]]:
    """Ours and raw on each query in turn (order swapped every query): same load for both."""
    got: dict[Any, list[np.ndarray]] = {ours: [], raw: []}
    lat: dict[Any, list[float]] = {ours: [], raw: []}
    for n, row in enumerate(q):
        r = row[None, :]
        for fn in (ours, raw) if n % 2 == 0 else (raw, ours):
            t = time.perf_counter()
            got[fn].append(fn(r))
            lat[fn].append(time.perf_counter() - t)
    return np.concatenate(got[ours]), np.concatenate(got[raw]), lat[ours], lat[raw]


def ms(lat: list[float], p: float) -> float:
    return round(float(np.percentile(lat, p)) * 1000, 3)


def loaded_rss(
    kind: str, folder: str, files: list[str], params: dict[str, Any], q: str, mmap: bool = True
) -> dict[str, float]:
    """RSS (MB) of a fresh process that loads the saved index and answers the queries: what
    loading and searching adds, and the process's total after."""
    code = f"""
import sys, json, numpy as np
sys.path.insert(0, {os.path.join(os.path.dirname(__file__), "..", "src")!r})
from benchmarks_scale_probe import probe
print(json.dumps(probe({kind!r}, {folder!r}, {files!r}, {params!r}, {q!r}, {mmap!r})))
"""
    env = {**os.environ, "PYTHONPATH": os.path.dirname(__file__)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def make_index(kind: str, args: Any, work: Path) -> Any:
    if kind == "exact":
        return FaissFlatIndex()
    if kind == "hnsw":
        return HnswIndex(m=args.hnsw_m, ef_construction=args.efc, ef_search=args.ef)
    return IvfPqIndex(
        m=args.m, nprobe=args.nprobe, rerank=args.rerank, store=args.store, workdir=work
    )


def settings(kind: str, args: Any) -> list[dict[str, int]]:
    """The search settings to sweep: efSearch for HNSW, nprobe x re-ranking for IVF-PQ."""
    if kind == "hnsw":
        return [{"ef": int(v)} for v in (args.efs or str(args.ef)).split(",")]
    if kind == "ivfpq":
        return [
            {"nprobe": int(p), "rerank": int(r)}
            for r in (args.reranks or str(args.rerank)).split(",")
            for p in (args.nprobes or str(args.nprobe)).split(",")
        ]
    return [{}]


def sweep(kind: str, idx: Any, q: np.ndarray, gt: np.ndarray, args: Any) -> list[dict[str, Any]]:
    """One row per search setting: recall, latency, raw FAISS latency at the same setting."""
    rows = []
    for setting in settings(kind, args):
        if kind == "hnsw":
            idx.ef_search = args.ef = setting["ef"]
        elif kind == "ivfpq":
            idx.nprobe = args.nprobe = setting["nprobe"]
            idx.rerank = args.rerank = setting["rerank"]
        ours = top10(idx)
        raw = raw_search(kind, idx, args)
        row: dict[str, Any] = {"setting": " ".join(f"{k}={v}" for k, v in setting.items())}
        if raw is None:
            got, lat = latencies(ours, q)
        else:
            got, raw_got, lat, raw_lat = alternated(ours, raw, q)
            row["raw_p50_ms"] = ms(raw_lat, 50)
            row["raw_recall@10"] = round(recall(raw_got, gt), 4)
        row.update({"recall@10": round(recall(got, gt), 4), "p50_ms": ms(lat, 50)})
        row["p99_ms"] = ms(lat, 99)
        if raw is not None:
            row["ratio_p50"] = round(row["p50_ms"] / row["raw_p50_ms"], 3)
        rows.append(row)
    return rows


def saved_files(kind: str, folder: Path) -> list[str]:
    """The files an earlier run of this script saved into ``folder`` for ``kind``."""
    if kind == "hnsw":
        return ["hnsw.hnsw", "hnsw.rows.npy"]
    vec = [p.name for p in folder.glob("ivfpq-vectors-*.f")]
    return ["ivfpq.ivf", vec[0], "ivfpq.rows.npy"]


def bench_one(kind: str, x: np.ndarray, q: np.ndarray, gt: np.ndarray, args: Any) -> dict[str, Any]:
    ids = np.arange(len(x), dtype=np.int64)
    work = Path(args.reuse or tempfile.mkdtemp(prefix="xmodal-scale-", dir=args.work))
    idx = make_index(kind, args, work)
    t = time.perf_counter()
    if args.reuse:
        idx.load(work, saved_files(kind, work), mmap=False)
    else:
        idx.build(ids, x)
    row: dict[str, Any] = {"kind": kind, "n": len(x), "build_s": round(time.perf_counter() - t, 1)}
    row["reused"] = bool(args.reuse)
    row["params"] = idx.params() if kind != "exact" else {}
    row["sweep"] = sweep(kind, idx, q, gt, args)
    if args.text and kind == "hnsw":
        row["text"] = text_end_to_end(idx, q, args.text)
    if kind != "exact":
        files = idx.save(work, kind)
        qpath = str(work / "q.npy")
        np.save(qpath, q)
        del idx
        rss = loaded_rss(kind, str(work), files, make_index(kind, args, work).params(), qpath)
        row["rss_loaded"] = rss
        row["bytes_per_vector_ram"] = round(rss["VmRSS"] * 2**20 / len(x), 1)
        disk = sum(os.path.getsize(work / f) for f in files if f != "-")
        row["disk_mb"] = round(disk / 2**20)
    return row


QUERIES = [
    "a dog running on the beach",
    "红色的花",
    "city skyline at night",
    "une tasse de café sur une table",
    "snow on the mountains",
    "ein Kind spielt Fußball",
    "birthday cake with candles",
    "山の上の雪",
]


def text_end_to_end(idx: Any, q: np.ndarray, encoder_name: str) -> dict[str, Any]:
    """A text query as the search path runs it: the bundled encoder embeds the words, then
    the index answers. The million vectors are synthetic and of another width than the
    encoder's, so the index is asked with a query of the mixture (in distribution) right
    after the encoder's vector is made: the time is the encoder's plus the index's."""
    from xmodal.encoders.registry import get_encoder

    enc = get_encoder(encoder_name)
    enc.encode_texts(["warm up"], role="query")
    total, alone = [], []
    for n, row in enumerate(q[:200]):
        text = f"{QUERIES[n % len(QUERIES)]} {n}"
        t = time.perf_counter()
        vec = enc.encode_texts([text], role="query")
        mid = time.perf_counter()
        idx.search(row[None, :], 10)
        total.append(time.perf_counter() - t)
        alone.append(mid - t)
        assert vec.shape[0] == 1
    return {
        "encoder": encoder_name,
        "p50_ms": ms(total, 50),
        "p99_ms": ms(total, 99),
        "encoder_p50_ms": ms(alone, 50),
    }


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
    if idx._ivf is None or args.store != "float32":
        return None
    if getattr(args, "_refine", None) is None:
        exact = faiss.IndexFlatIP(idx._vec.dim)
        for start in range(0, idx._vec.rows, CHUNK):
            exact.add(idx._vec.get(np.arange(start, min(start + CHUNK, idx._vec.rows))))
        args._refine = faiss.IndexRefine(idx._ivf, exact)
    params = faiss.IVFSearchParameters()
    params.nprobe = args.nprobe
    rparams = faiss.IndexRefineSearchParameters(
        k_factor=float(args.rerank), base_index_params=params
    )
    refine = args._refine
    return lambda r: refine.search(r, 10, params=rparams)[1]


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--kinds", default="exact,hnsw,ivfpq")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--efc", type=int, default=80)
    ap.add_argument("--ef", type=int, default=96)
    ap.add_argument("--efs", help="efSearch values to sweep, comma separated")
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--nprobe", type=int, default=32)
    ap.add_argument("--nprobes", help="nprobe values to sweep, comma separated")
    ap.add_argument("--rerank", type=int, default=16)
    ap.add_argument("--reranks", help="re-ranking factors to sweep, comma separated")
    ap.add_argument("--store", default="float32", choices=("float32", "float16"))
    ap.add_argument("--cache", help="folder keeping the vectors and ground truth between runs")
    ap.add_argument("--work", help="folder for the index files (default: the temp folder)")
    ap.add_argument("--reuse", help="index folder an earlier run saved: load, do not build")
    ap.add_argument("--text", help="a text encoder to time a text query end to end with")
    ap.add_argument("--out", help="append the rows as JSON lines to this file")
    return ap.parse_args()


def main() -> None:
    args = arguments()
    t = time.perf_counter()
    x = cached_mixture(args.cache, args.n, seed=1)
    q = mixture(args.queries, seed=2)
    gt = cached_truth(args.cache, x, q, 10)
    print(f"# vectors and ground truth: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    for kind in args.kinds.split(","):
        row = bench_one(kind, x, q, gt, args)
        args._refine = None
        row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        row["loadavg"] = os.getloadavg()
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                keep = {k: v for k, v in vars(args).items() if not k.startswith("_")}
                f.write(json.dumps({**row, "args": keep}) + "\n")


if __name__ == "__main__":
    main()
