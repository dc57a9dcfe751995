"""Expected calibration error of ``xmodal calibrate`` on held-out queries (openmoji, emoji-small).

    xmodal bench prepare openmoji --split test --out data/om-test
    python benchmarks/calibration.py --data data/om-test --plot docs/img/calibration-reliability.png

Indexes the benchmark's pictures (the t2i targets) with emoji-small, then for isotonic
regression and Platt scaling fits the ``t2i`` task's scores on half its queries and measures
ECE (10 equal-width bins) on the other half, over several random splits of the queries; the
reliability diagram of the first split of each method is drawn into one figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import facts_markdown, machine_facts, md_table
from xmodal.collection import Collection
from xmodal.eval.benchmarks import load_layout
from xmodal.eval.calibration import Method, calibrate
from xmodal.eval.report.reliability import draw_reliability
from xmodal.eval.runner import RunOptions, qrels_by_path, read_queries
from xmodal.eval.trec import read_qrels

METHODS: tuple[Method, ...] = ("isotonic", "platt")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a folder made by `bench prepare openmoji`")
    ap.add_argument("--model", default="emoji-small", help="the space (default emoji-small)")
    ap.add_argument("--task", default="t2i", help="the task (default t2i)")
    ap.add_argument("--splits", type=int, default=5, help="random query splits (default 5)")
    ap.add_argument("-k", type=int, default=50, help="hits per query (default 50)")
    ap.add_argument("--plot", help="write the reliability diagram here")
    args = ap.parse_args(argv)
    layout = load_layout(args.data)
    task = next(t for t in layout.tasks if t.name == args.task)
    with Collection.open(Path(args.data) / f"db-{args.model}") as col:
        t0 = time.perf_counter()
        # only the task's targets: calibrate, like eval, ranks whatever the collection holds
        col.index([layout.root / "images"], models=[args.model])
        print(f"indexed in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        qrels = qrels_by_path(read_qrels(task.qrels), col.ids(), layout.root)
        queries = read_queries(task.queries)
        options = RunOptions(args.k, base_dir=str(layout.root))
        ece: dict[str, list[float]] = {m: [] for m in METHODS}
        curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for method in METHODS:
            for seed in range(args.splits):
                report = calibrate(
                    col, queries, qrels, method=method, spaces=[args.model], options=options,
                    seed=seed,
                )  # fmt: skip
                value = report.calibrators[args.model].ece_heldout
                assert value is not None
                ece[method].append(value)
                if seed == 0:
                    curves[method] = report.heldout[args.model]
    rows = [
        [m, len(ece[m]), f"{statistics.mean(ece[m]):.4f}", f"{min(ece[m]):.4f}",
         f"{max(ece[m]):.4f}"]
        for m in METHODS
    ]  # fmt: skip
    print(facts_markdown(machine_facts()))
    print(f"{len(qrels)} queries, half held out per split, top {args.k} hits each")
    print(md_table(["method", "splits", "held-out ECE (mean)", "min", "max"], rows))
    if args.plot:
        title = f"{layout.name} {task.name}, {args.model}: held-out queries"
        draw_reliability(Path(args.plot), curves, title=title)
        print(f"reliability diagram: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
