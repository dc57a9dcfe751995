"""Exact search latency: xmodal's indexes against raw FAISS on the same vectors and queries.

For each size (default 10k, 100k, 1M unit vectors of dim 512, float32, seeded):

- unfiltered: ``create_index("flat")`` and ``create_index("numpy")`` ``.search(q, k=10)``
  against ``faiss.IndexFlatIP.search`` on the same matrix, one query at a time (median and
  p95 latency) and in batches of 64 queries;
- filtered to 10% of the ids: our ``.search(q, k, allowed)`` against raw FAISS with an
  ``IDSelectorBatch`` over the same rows, once built ahead (search cost only) and once built
  per call (what a caller with a fresh filter pays).

Timings of the FAISS-backed methods are interleaved query by query so that background load
hits them alike; the NumPy index is timed in a block of its own (its OpenBLAS threads would
otherwise slow whichever FAISS call follows it). Optionally measures ``Collection.search`` end
to end on a collection of random vectors written through ``Store.put_items`` into a space
registered for the classic encoder.

    .venv/bin/python benchmarks/search.py
    .venv/bin/python benchmarks/search.py --sizes 10000,100000 --data clustered
    .venv/bin/python benchmarks/search.py --sizes 1000000 --collection-size 0 --json-out s.json
"""

from __future__ import annotations

import argparse
import gc
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from _common import (
    LoadMonitor,
    facts_markdown,
    machine_facts,
    md_table,
    percentile,
    wait_for_quiet,
    write_json,
)
from xmodal import Collection, Filters
from xmodal.index import create_index

Fn = Callable[[np.ndarray], Any]

# what faiss-cpu ships, read before xmodal's index module sets its own
SHIPPED_BLAS_THRESHOLD = int(faiss.cvar.distance_compute_blas_threshold)


def as_shipped(fn: Fn) -> Fn:
    """``fn`` run with FAISS's BLAS threshold as shipped: the figures before xmodal set it."""

    def run(q: np.ndarray) -> Any:
        ours = faiss.cvar.distance_compute_blas_threshold
        faiss.cvar.distance_compute_blas_threshold = SHIPPED_BLAS_THRESHOLD
        try:
            return fn(q)
        finally:
            faiss.cvar.distance_compute_blas_threshold = ours

    return run


def unit_vectors(n: int, d: int, seed: int, kind: str, chunk: int = 100_000) -> np.ndarray:
    """``n`` x ``d`` float32 unit vectors, generated and normalised in chunks (flat memory)."""
    out = np.empty((n, d), dtype=np.float32)
    rng = np.random.default_rng([seed, 1])
    centers = None
    if kind == "clustered":
        crng = np.random.default_rng([seed, 0])
        centers = crng.standard_normal((max(16, n // 1000), d), dtype=np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        block = rng.standard_normal((e - s, d), dtype=np.float32)
        if centers is not None:
            block *= 0.6 / np.sqrt(d)
            block += centers[rng.integers(0, len(centers), size=e - s)]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[s:e] = block
    return out


def query_vectors(nq: int, d: int, seed: int, kind: str, n: int) -> np.ndarray:
    # same distribution as the data (same centres when clustered), different draws
    if kind == "clustered":
        rng = np.random.default_rng([seed, 0])
        centers = rng.standard_normal((max(16, n // 1000), d), dtype=np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
        qrng = np.random.default_rng([seed, 2])
        q = centers[qrng.integers(0, len(centers), size=nq)]
        q = q + qrng.standard_normal((nq, d), dtype=np.float32) * (0.6 / np.sqrt(d))
        return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    return unit_vectors(nq, d, seed + 1_000_003, "uniform")


def _ms(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "median_ms": 1000.0 * percentile(seconds, 50),
        "p95_ms": 1000.0 * percentile(seconds, 95),
        "min_ms": 1000.0 * min(seconds),
        "max_ms": 1000.0 * max(seconds),
        "n": len(seconds),
    }


def interleaved(methods: dict[str, Fn], inputs: Sequence[np.ndarray], warmup: int = 3) -> dict:
    """Time every method on every input, methods rotating within each input."""
    names = list(methods)
    for x in inputs[:warmup]:
        for name in names:
            methods[name](x)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, x in enumerate(inputs):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            t0 = time.perf_counter()
            methods[name](x)
            times[name].append(time.perf_counter() - t0)
    return {name: _ms(ts) for name, ts in times.items()}


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def bench_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    d, k = args.dim, args.k
    t0 = time.perf_counter()
    vecs = unit_vectors(n, d, args.seed, args.data)
    gen_s = time.perf_counter() - t0
    nq = args.queries if n < 1_000_000 else args.queries_large
    reps = args.batch_repeats if n < 1_000_000 else args.batch_repeats_large
    queries = query_vectors(max(nq, args.batch * reps), d, args.seed, args.data, n)
    ids = np.arange(n, dtype=np.int64)
    frng = np.random.default_rng([args.seed, 3])
    allowed = np.sort(frng.choice(n, size=max(1, int(n * args.filter_fraction)), replace=False))
    allowed = allowed.astype(np.int64)

    build: dict[str, float] = {}
    t0 = time.perf_counter()
    raw = faiss.IndexFlatIP(d)
    raw.add(vecs)
    build["raw faiss IndexFlatIP"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    flat = create_index("flat")
    flat.build(ids, vecs)
    build["ours flat"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    numpy_idx = create_index("numpy")
    numpy_idx.build(ids, vecs)
    build["ours numpy"] = time.perf_counter() - t0
    del vecs
    gc.collect()
    print(f"  n={n}: built (peak RSS {_rss_gib():.1f} GiB)", file=sys.stderr)

    sel = faiss.IDSelectorBatch(allowed)
    prebuilt = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]

    # correctness: every method returns the same top-k as raw FAISS
    qb = queries[: args.batch]
    _, ref = raw.search(qb, k)
    _, ref_f = raw.search(qb, k, params=prebuilt)
    agree = {
        "flat": float(np.mean(flat.search(qb, k)[1] == ref)),
        "numpy": float(np.mean(numpy_idx.search(qb, k)[1] == ref)),
        "flat filtered": float(np.mean(flat.search(qb, k, allowed)[1] == ref_f)),
        "numpy filtered": float(np.mean(numpy_idx.search(qb, k, allowed)[1] == ref_f)),
        "raw filtered ids all allowed": bool(np.isin(ref_f, allowed).all()),
    }

    def raw_fresh_sel(q: np.ndarray) -> Any:
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))  # type: ignore[call-arg]
        return raw.search(q, k, params=params)

    # FAISS-backed methods are interleaved with each other; the NumPy index runs in a block
    # of its own, because OpenBLAS's worker threads, still spinning after a NumPy call, slow
    # the FAISS (OpenMP) call that follows on a 2-core machine and would bias whichever
    # FAISS method happens to come next
    unfiltered: list[dict[str, Fn]] = [
        {
            "raw faiss": lambda q: raw.search(q, k),
            "raw faiss, BLAS threshold as shipped": as_shipped(lambda q: raw.search(q, k)),
            "ours flat": lambda q: flat.search(q, k),
        },
        {"ours numpy": lambda q: numpy_idx.search(q, k)},
    ]
    filtered: list[dict[str, Fn]] = [
        {
            "raw faiss, selector prebuilt": lambda q: raw.search(q, k, params=prebuilt),
            "raw faiss, selector per call": raw_fresh_sel,
            "ours flat": lambda q: flat.search(q, k, allowed),
        },
        {"ours numpy": lambda q: numpy_idx.search(q, k, allowed)},
    ]
    singles = [queries[i : i + 1] for i in range(nq)]
    batches = [queries[i * args.batch : (i + 1) * args.batch] for i in range(reps)]
    out: dict[str, Any] = {
        "n": n,
        "dim": d,
        "k": k,
        "queries": nq,
        "batch": args.batch,
        "batch_repeats": reps,
        "allowed": len(allowed),
        "generate_s": gen_s,
        "build_s": build,
        "agreement_with_raw": agree,
    }
    for label, groups in (("unfiltered", unfiltered), ("filtered", filtered)):
        if args.wait_quiet:
            wait_for_quiet(args.wait_quiet)
        print(f"  n={n}: {label} single", file=sys.stderr)
        single: dict[str, Any] = {}
        batch: dict[str, Any] = {}
        with LoadMonitor() as m1:
            for methods in groups:
                single.update(interleaved(methods, singles, warmup=min(3, nq)))
        print(f"  n={n}: {label} batch", file=sys.stderr)
        with LoadMonitor() as m2:
            for methods in groups:
                batch.update(interleaved(methods, batches, warmup=1))
        out[label] = {
            "single": single,
            "batch": batch,
            "other_processes_cores": {"single": m1.other_cores, "batch": m2.other_cores},
        }
    out["peak_rss_gib"] = _rss_gib()
    return out  # the indexes are freed with this frame


# -- Collection.search end to end ---------------------------------------------------------


def bench_collection(n: int, args: argparse.Namespace) -> dict[str, Any]:
    from PIL import Image

    from xmodal.encoders import get_encoder
    from xmodal.records import Modality, Segment
    from xmodal.store.sqlite import NewItem, Store

    enc = get_encoder("classic")
    d = enc.spec.dim
    tmp = Path(tempfile.mkdtemp(prefix="xmodal-bench-search-", dir=args.tmp))
    try:
        db = tmp / "col"
        store = Store(db)
        store.ensure_space(enc.spec)
        store.set_meta("encoders", '["classic"]')
        vecs = unit_vectors(n, d, args.seed + 7, args.data)
        t0 = time.perf_counter()
        step = 5000
        for s in range(0, n, step):
            items = [
                NewItem(
                    path=f"/bench/d{i % 10}/img_{i:07d}.jpg",
                    modality=Modality.IMAGE,
                    content_hash=f"{i:032x}",
                    size=100_000,
                    mtime=1.7e9 + i,
                    signature=f"100000:{i}",
                    metadata={"width": 640, "height": 480, "format": "JPEG"},
                    text="",
                    segments=[Segment(0, "")],
                    vectors={"classic": ([0], vecs[i : i + 1])},
                    encoded=frozenset({"classic"}),
                )
                for i in range(s, min(n, s + step))
            ]
            store.put_items(items)
        write_s = time.perf_counter() - t0
        store.close()
        del vecs

        qimg = tmp / "query.jpg"
        rng = np.random.default_rng([args.seed, 9])
        Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(qimg, quality=90)
        k = args.k
        glob_10pct = Filters(path_globs=("/bench/d3/*",))

        col = Collection.open(db)
        t0 = time.perf_counter()
        col.search(image=qimg, k=k, model="classic")
        cold_s = time.perf_counter() - t0
        col.close()
        col = Collection.open(db)  # a second process: the snapshot is on disk now
        t0 = time.perf_counter()
        col.search(image=qimg, k=k, model="classic")
        cold_snapshot_s = time.perf_counter() - t0

        nq = args.collection_queries
        space = "classic"
        from xmodal.query.parse import Query, Term

        q = Query((Term("image", str(qimg), 1.0),))
        qv = col.query_vectors(q, [space])[space]
        idx = col.indexes.get(space, d)
        depth = max(4 * k, 50)
        allowed = col.store.allowed_segments(glob_10pct)
        raw = faiss.IndexFlatIP(d)
        _, mat = _collection_matrix(col, space, d)
        raw.add(mat)
        del mat

        methods: dict[str, Fn] = {
            "Collection.search": lambda _: col.search(image=qimg, k=k, model=space),
            "Collection.search, filter 10%": lambda _: col.search(
                image=qimg, k=k, model=space, filters=glob_10pct
            ),
            "  query encode (query_vectors)": lambda _: col.query_vectors(q, [space]),
            "  index search, depth 50": lambda _: idx.search(qv[None, :], depth),
            "  allowed_segments (SQL, 10%)": lambda _: col.store.allowed_segments(glob_10pct),
            "  index search, depth 50, filter 10%": lambda _: idx.search(
                qv[None, :], depth, allowed
            ),
            "raw faiss search, k=10": lambda _: raw.search(qv[None, :], k),
        }
        if args.wait_quiet:
            wait_for_quiet(args.wait_quiet)
        with LoadMonitor() as mon:
            res = interleaved(methods, [qv] * nq, warmup=2)
        col.close()
        return {
            "n": n,
            "dim": d,
            "k": k,
            "queries": nq,
            "put_items_s": write_s,
            "cold_first_search_s": cold_s,
            "cold_search_from_snapshot_s": cold_snapshot_s,
            "allowed": len(allowed),
            "latency": res,
            "other_processes_cores": mon.other_cores,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _collection_matrix(col: Collection, space: str, d: int) -> tuple[np.ndarray, np.ndarray]:
    from xmodal.store.snapshot import load_space

    return load_space(col.store, space, d)


# -- output -------------------------------------------------------------------------------


def _load(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _ratio(ours: dict[str, float], raw: dict[str, float]) -> str:
    return f"{ours['median_ms'] / raw['median_ms']:.2f} / {ours['min_ms'] / raw['min_ms']:.2f}"


def render(out: dict[str, Any]) -> str:
    lines = [
        f"## Exact search, dim {out['config']['dim']}, k={out['config']['k']}, "
        f"{out['config']['data']} data",
        "",
        facts_markdown(out["machine"]),
        "",
    ]
    rows = []
    ratios = []
    for r in out["sizes"]:
        n = r["n"]
        for label, ref in (
            ("unfiltered", "raw faiss"),
            ("filtered", "raw faiss, selector prebuilt"),
        ):
            bg = r[label]["other_processes_cores"]
            for name in r[label]["single"]:
                s, b = r[label]["single"][name], r[label]["batch"][name]
                rs, rb = r[label]["single"][ref], r[label]["batch"][ref]
                rows.append(
                    [
                        f"{n:,}",
                        label if label == "unfiltered" else f"filtered {r['allowed']:,} ids",
                        name,
                        f"{s['median_ms']:.3f}",
                        f"{s['p95_ms']:.3f}",
                        f"{s['min_ms']:.3f}",
                        _ratio(s, rs),
                        f"{b['median_ms']:.2f}",
                        f"{b['min_ms']:.2f}",
                        _ratio(b, rb),
                        f"{_load(bg['single'])} / {_load(bg['batch'])}",
                    ]
                )
            ours_s, raw_s = r[label]["single"]["ours flat"], r[label]["single"][ref]
            ours_b, raw_b = r[label]["batch"]["ours flat"], r[label]["batch"][ref]
            ratios.append(
                (
                    n,
                    label,
                    ours_s["median_ms"] / raw_s["median_ms"],
                    ours_s["min_ms"] / raw_s["min_ms"],
                    ours_b["median_ms"] / raw_b["median_ms"],
                    ours_b["min_ms"] / raw_b["min_ms"],
                )
            )
    lines.append(
        md_table(
            [
                "n",
                "case",
                "method",
                "1 query median ms",
                "1 query p95 ms",
                "1 query min ms",
                "ratio vs raw (median / min)",
                f"batch {out['config']['batch']} median ms",
                "batch min ms",
                "ratio vs raw (median / min)",
                "other processes, cores (1 query / batch)",
            ],
            rows,
        )
    )
    lines.append("")
    lines.append(
        "Ratio = our latency / raw FAISS latency, of the medians and of the minima (unfiltered: "
        "`IndexFlatIP.search`; filtered: `IDSelectorBatch` built once ahead), both with "
        "xmodal's BLAS threshold unless the method says otherwise. Goal for ours flat: <= 1.2."
    )
    for n, label, sm, smin, bm, bmin in ratios:
        ok = "meets" if max(sm, bm) <= 1.2 else "misses"
        lines.append(
            f"- {n:,} {label}: ours flat / raw = {sm:.2f} median, {smin:.2f} min (1 query); "
            f"{bm:.2f} median, {bmin:.2f} min (batch): {ok} on medians"
        )
    lines.append("")
    qn = ", ".join(
        f"{r['n']:,}: {r['queries']} single, {r['batch_repeats']} batches" for r in out["sizes"]
    )
    lines.append(f"Queries per size: {qn}.")
    for r in out["sizes"]:
        b = ", ".join(f"{k} {v:.2f}s" for k, v in r["build_s"].items())
        a = r["agreement_with_raw"]
        lines.append(
            f"- {r['n']:,}: build {b}; peak RSS so far {r['peak_rss_gib']:.1f} GiB; "
            f"top-{r['k']} ids equal to raw FAISS: flat {a['flat']:.3f}, numpy {a['numpy']:.3f}, "
            f"flat filtered {a['flat filtered']:.3f}, numpy filtered {a['numpy filtered']:.3f}"
        )
    c = out.get("collection")
    if c:
        lines += [
            "",
            f"### Collection.search end to end, {c['n']:,} random vectors in the classic space "
            f"(dim {c['dim']}), k={c['k']}, {c['queries']} queries",
            "",
            f"Writing them with Store.put_items: {c['put_items_s']:.1f}s. First search in a fresh "
            f"collection (reads every vector from SQLite, writes the snapshot, builds the index): "
            f"{c['cold_first_search_s']:.2f}s; first search in a second `Collection.open` "
            f"(snapshot on disk): {c['cold_search_from_snapshot_s']:.2f}s. "
            f"Filter: path glob matching {c['allowed']:,} segments. Other processes kept "
            f"{_load(c['other_processes_cores'])} cores busy meanwhile.",
            "",
            md_table(
                ["step", "median ms", "p95 ms"],
                [
                    [name, f"{v['median_ms']:.3f}", f"{v['p95_ms']:.3f}"]
                    for name, v in c["latency"].items()
                ],
            ),
        ]
    elif out["config"]["collection_size"] == 0:
        lines += ["", "Collection.search end to end: skipped (--collection-size 0)."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--data", choices=("uniform", "clustered"), default="uniform")
    p.add_argument("--queries", type=int, default=200, help="single queries below 1M")
    p.add_argument("--queries-large", type=int, default=40, help="single queries at >= 1M")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batch-repeats", type=int, default=10, help="batches below 1M")
    p.add_argument("--batch-repeats-large", type=int, default=5, help="batches at >= 1M")
    p.add_argument("--filter-fraction", type=float, default=0.10)
    p.add_argument("--collection-size", type=int, default=100_000, help="0 skips it")
    p.add_argument("--collection-queries", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tmp", default=None, help="parent folder for the temporary collection")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="before each section, wait up to this many seconds for other processes to go idle",
    )
    p.add_argument(
        "--omp-threads", type=int, default=0, help="faiss.omp_set_num_threads (0: leave as is)"
    )
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)

    if args.omp_threads:
        faiss.omp_set_num_threads(args.omp_threads)
    facts = machine_facts()
    facts["faiss_omp_threads"] = faiss.omp_get_max_threads()
    create_index("flat")  # xmodal sets FAISS's BLAS threshold when its index module loads
    facts["faiss_blas_threshold"] = faiss.cvar.distance_compute_blas_threshold
    facts["faiss_blas_threshold_shipped"] = SHIPPED_BLAS_THRESHOLD
    out: dict[str, Any] = {
        "benchmark": "search",
        "machine": facts,
        "config": {
            "dim": args.dim,
            "k": args.k,
            "data": args.data,
            "batch": args.batch,
            "filter_fraction": args.filter_fraction,
            "seed": args.seed,
            "collection_size": args.collection_size,
        },
        "sizes": [],
        "goal": "ours flat / raw faiss <= 1.2",
    }
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
        out["sizes"].append(bench_size(n, args))
    if args.collection_size > 0:
        print(f"  collection n={args.collection_size}", file=sys.stderr)
        out["collection"] = bench_collection(args.collection_size, args)
    out["peak_rss_gib"] = _rss_gib()
    print(render(out))
    write_json(args.json_out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
