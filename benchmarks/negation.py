"""Negation parsing and ``--expand`` on the scenes benchmark's negated and compositional queries.

    python benchmarks/negation.py                       # 300 pictures, every space below
    python benchmarks/negation.py --n-images 500 --models minilm,bm25 --json out.json

The scenes are prepared with ``oracle_captions``: each picture carries its caption as a
sidecar, so text spaces (minilm, e5-multilingual, bm25) read what the picture shows in words;
emoji-small reads the pixels. For each task and space every query is searched four ways:
negation parsing off (the literal query through ``parse_query``) or on (``parse_natural``:
"X that is not Y" becomes X with Y at negative weight, hits mentioning Y demoted), each with
and without pseudo-relevance feedback (``expand``). The figure is the task's metric (MAP) with
a 95% bootstrap interval over queries, and the paired difference against the plain query.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import facts_markdown, machine_facts, md_table, write_json
from xmodal.collection import Collection
from xmodal.eval.benchmarks import BenchmarkLayout, Task
from xmodal.eval.benchmarks.scenes import prepare
from xmodal.eval.metrics import evaluate
from xmodal.eval.runner import qrels_by_path, read_queries
from xmodal.eval.stats import bootstrap_ci, paired_test
from xmodal.eval.trec import Qrels, Run, read_qrels
from xmodal.query.filters import Filters
from xmodal.query.negation import parse_natural
from xmodal.query.parse import Query, parse_query
from xmodal.records import Modality

TASKS = ("t2i-negation", "t2i-compositional")
MODELS = ("minilm", "e5-multilingual", "bm25", "emoji-small")
#: (label, parser, expand); the first is the plain query every other is compared with
VARIANTS: tuple[tuple[str, Callable[[str], Query], bool], ...] = (
    ("plain", parse_query, False),
    ("negation", parse_natural, False),
    ("plain + expand", parse_query, True),
    ("negation + expand", parse_natural, True),
)
DEPTH = 100


def run_variant(
    col: Collection,
    queries: dict[str, str],
    space: str,
    parse: Callable[[str], Query],
    expand: bool,
) -> Run:
    images = Filters(modalities=frozenset({Modality.IMAGE}))
    run: Run = {}
    for qid, text in queries.items():
        hits = col.search(parse(text), k=DEPTH, model=space, filters=images, expand=expand)
        # strictly decreasing scores, so the metric sees the order the engine returned
        run[qid] = {h.id: float(DEPTH - r) for r, h in enumerate(hits)}
    return run


def score_task(col: Collection, layout: BenchmarkLayout, task: Task, space: str) -> list[dict]:
    qrels: Qrels = qrels_by_path(read_qrels(task.qrels), col.ids(), layout.root)
    queries = {q: t for q, t in read_queries(task.queries).items() if q in qrels}
    per_variant: dict[str, list[float]] = {}
    rows: list[dict[str, Any]] = []
    for label, parse, expand in VARIANTS:
        t0 = time.perf_counter()
        result = evaluate(qrels, run_variant(col, queries, space, parse, expand))
        values = [result.per_query[q][task.metric] for q in sorted(queries)]
        per_variant[label] = values
        mean, low, high = bootstrap_ci(values)
        row: dict[str, Any] = {
            "task": task.name,
            "space": space,
            "variant": label,
            "metric": task.metric,
            "n": len(values),
            "mean": mean,
            "ci": [low, high],
            "seconds_per_query": (time.perf_counter() - t0) / len(values),
        }
        if label != "plain":
            p = paired_test(per_variant["plain"], values)
            row["diff"] = {"mean": p.mean_diff, "ci": [p.ci_low, p.ci_high], "p": p.p_value}
        rows.append(row)
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        d = r.get("diff")
        vs = "-"
        if d:
            vs = f"{d['mean']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}], p={d['p']:.3g}"
        out.append(
            [
                r["task"],
                r["space"],
                r["variant"],
                r["n"],
                f"{r['mean']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]",
                vs,
                f"{1000 * r['seconds_per_query']:.0f}",
            ]
        )
    headers = ["task", "space", "query", "n", "MAP [95% CI]", "minus plain [95% CI]", "ms/query"]
    return md_table(headers, out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=300, help="pictures in the scenes")
    ap.add_argument("--max-queries", type=int, default=200, help="queries per task at most")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated spaces")
    ap.add_argument("--out", help="folder for the benchmark and collection (default: temporary)")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        layout = prepare(
            root / "scenes",
            n_images=args.n_images,
            max_queries=args.max_queries,
            oracle_captions=True,
        )
        rows: list[dict[str, Any]] = []
        with Collection.open(root / "db") as col:
            t0 = time.perf_counter()
            col.index(list(layout.documents), models=models)
            print(f"indexed in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            for task in (t for t in layout.tasks if t.name in TASKS):
                for space in models:
                    rows += score_task(col, layout, task, space)
                    print(f"  {task.name} / {space} done", file=sys.stderr)
    print(facts_markdown(machine_facts()))
    print(table(rows))
    write_json(args.json, {"facts": machine_facts(), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
