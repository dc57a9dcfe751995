"""A text query end to end over HTTP against the same query in process.

``xmodal serve`` runs in its own process (real uvicorn on a loopback port); an httpx client
with keep-alive sends ``GET /api/search?q=...&k=10`` and reads the JSON. In this process the
same collection answers ``Collection.search(q, k=10)``. The two are interleaved query by
query, after a warm-up of both, so background load hits them alike; p50 and p95 of each and
the ratio of the p50s are printed as Markdown.

    .venv/bin/python benchmarks/serve.py                      # builds the demo collection
    .venv/bin/python benchmarks/serve.py --db ~/collections/home --rounds 20
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _common import facts_markdown, machine_facts, md_table, percentile
from xmodal import Collection

QUERIES = (
    "cat", "猫", "a red apple", "dog", "smiling face", "car", "tree", "fish", "heart", "moon",
    "sun", "flag", "rocket", "pizza", "house", "bird", "flower", "clock", "book", "music",
)  # fmt: skip


def _demo_collection(folder: Path) -> Path:
    db = folder / "db"
    subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "demo", "--db", str(db), "--sample",
         str(folder / "sample"), "--limit", "400", "-q", "--query", "cat"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return db


def _start_server(db: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "xmodal.cli", "serve", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if " at http://" not in line:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, line.split(" at ", 1)[1].split()[0].rstrip("/")


def measure(db: Path, rounds: int, k: int) -> dict[str, list[float]]:
    proc, url = _start_server(db)
    times: dict[str, list[float]] = {"http": [], "library": []}
    try:
        with Collection.open(db, create=False) as col, httpx.Client(base_url=url) as http:
            for q in QUERIES:  # warm-up: encoders, indexes, connection
                col.search(q, k=k)
                http.get("/api/search", params={"q": q, "k": k}).raise_for_status()
            for _ in range(rounds):
                for q in QUERIES:
                    t0 = time.perf_counter()
                    answer = http.get("/api/search", params={"q": q, "k": k})
                    answer.raise_for_status()
                    answer.json()
                    times["http"].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    col.search(q, k=k)
                    times["library"].append(time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(30)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="collection to serve (default: the demo, built)")
    ap.add_argument("--rounds", type=int, default=10, help="passes over the queries")
    ap.add_argument("-k", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="xmodal-bench-serve-") as tmp:
        os.environ.setdefault("XMODAL_CACHE", str(Path(tmp) / "cache"))
        db = args.db or _demo_collection(Path(tmp))
        times = measure(db, args.rounds, args.k)
    rows = []
    for name, label in (("http", "HTTP end to end"), ("library", "Collection.search")):
        ms = [t * 1000 for t in times[name]]
        rows.append([label, len(ms), f"{percentile(ms, 50):.2f}", f"{percentile(ms, 95):.2f}"])
    ratio = percentile(times["http"], 50) / percentile(times["library"], 50)
    print(facts_markdown(machine_facts()))
    print()
    print(md_table(["path", "queries", "p50 ms", "p95 ms"], rows))
    print()
    print(f"ratio of p50s (HTTP / in process): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
