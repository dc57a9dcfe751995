"""``xmodal bench``: built-in benchmarks (list, prepare, run)."""

from __future__ import annotations

import argparse
from typing import Any

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_group,
    end_command,
    fail,
    finite,
    print_json,
)

_BENCH_COLUMNS = ("recall@1", "recall@5", "recall@10", "mrr", "map", "ndcg@10")


def add_parser(sub: Subparsers) -> None:
    bsub = add_group(
        sub,
        "bench",
        help="built-in benchmarks on real and synthetic data",
        dest="bench_command",
        examples=(
            "xmodal bench list",
            "xmodal bench prepare scenes --out data/scenes && xmodal bench run --data data/scenes",
        ),
    )
    bl = add_command(bsub, "list", "the built-in benchmarks", ("xmodal bench list",))
    end_command(bl, cmd_bench_list)
    _add_prepare(bsub)
    _add_run(bsub)


def _add_prepare(bsub: Subparsers) -> None:
    bp = add_command(
        bsub,
        "prepare",
        "build a benchmark's documents, queries and qrels",
        (
            "xmodal bench prepare scenes --out data/scenes --n-images 200",
            "xmodal bench prepare openmoji --out data/openmoji --split test --limit 500",
        ),
    )
    bp.add_argument("name", help="openmoji, emoji-styles or scenes")
    bp.add_argument("--out", required=True, metavar="DIR", help="folder to write it into")
    bp.add_argument("--seed", type=int, default=0, help="seed of any sampling (default 0)")
    bp.add_argument("--size", type=int, help="image side in pixels")
    bp.add_argument("--limit", type=int, help="openmoji: at most this many concepts")
    bp.add_argument("--split", choices=("train", "val", "test"), help="openmoji: which split")
    bp.add_argument(
        "--style",
        choices=("twemoji", "openmoji-black", "noto", "fluent-flat"),
        help="emoji-styles: drawing style",
    )
    bp.add_argument(
        "--languages",
        help="openmoji, emoji-styles: languages of each item's names and keywords kept for "
        "training: en or en,zh (default en,zh; the queries stay English)",
    )
    bp.add_argument("--n-images", type=int, help="scenes: number of images")
    bp.add_argument("--difficulty", choices=("easy", "hard"), help="scenes: difficulty")
    bp.add_argument(
        "--oracle-captions",
        action="store_true",
        help="openmoji, scenes: give each picture its caption as a sidecar (an upper-bound "
        "baseline)",
    )
    end_command(bp, cmd_bench_prepare)


def _add_run(bsub: Subparsers) -> None:
    br = add_command(
        bsub,
        "run",
        "index a prepared benchmark and score every task",
        (
            "xmodal bench run --data data/scenes",
            "xmodal bench run --data data/openmoji --model emoji-small --report reports/",
            "xmodal bench run --data data/openmoji --baseline random",
        ),
    )
    br.add_argument("--data", required=True, metavar="DIR", help="a folder made by prepare")
    br.add_argument("--db", metavar="DIR", help="collection folder (default: DIR/db-MODELS)")
    br.add_argument("--model", action="append", help="encoder to index with (repeatable)")
    br.add_argument("--space", help="search only this space")
    br.add_argument("--task", action="append", help="only this task (repeatable)")
    br.add_argument("-k", type=int, default=100, help="results per query (default 100)")
    br.add_argument("--report", metavar="DIR", help="write an HTML report per task here")
    br.add_argument(
        "--baseline", choices=("random",), help="score a baseline instead of a collection"
    )
    br.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
    end_command(br, cmd_bench_run)


def cmd_bench_list(args: argparse.Namespace) -> int:
    from xmodal.eval.benchmarks import benchmark_names

    names = benchmark_names()
    if args.json:
        print_json({"benchmarks": names})
    else:
        print("\n".join(names))
    return 0


def cmd_bench_prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xmodal.eval.benchmarks import benchmark_names, get_benchmark
    from xmodal.progress import progress_bar

    if args.name not in benchmark_names():
        return fail(f"unknown benchmark {args.name!r}; known: {', '.join(benchmark_names())}")
    options: dict[str, Any] = {"seed": args.seed}
    if args.oracle_captions:
        options["oracle_captions"] = True
    for key in ("size", "limit", "split", "n_images", "difficulty", "style", "languages"):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    bar = None if args.json else progress_bar(args.name, unit="picture")
    layout = get_benchmark(args.name)(Path(args.out), progress=bar, **options)
    tasks = {t.name: t.num_queries for t in layout.tasks}
    if args.json:
        print_json({"root": str(layout.root), "tasks": tasks, "counts": dict(layout.counts)})
    else:
        print(f"prepared {layout.name} in {layout.root}")
        for name, n in tasks.items():
            print(f"  task {name}: {n} queries")
    return 0


def cmd_bench_run(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection
    from xmodal.eval.bench import index_benchmark, plan_run, report_dir, run_tasks
    from xmodal.eval.benchmarks import load_layout
    from xmodal.progress import progress_bar

    layout = load_layout(args.data)
    if args.baseline == "random":
        from xmodal.eval.bench import random_baseline

        chance = random_baseline(layout, tasks=args.task, depth=args.k, seed=args.seed)
        return _print_bench(args, layout.name, "random", None, {
            n: (next(t for t in layout.tasks if t.name == n).metric, r) for n, r in chance.items()
        })  # fmt: skip
    plan = plan_run(layout, args.model, db=args.db, space=args.space)
    quiet = args.json
    with Collection.open(plan.db) as col:
        index_benchmark(col, layout, plan.models, None if quiet else progress_bar("indexing"))
        results = run_tasks(
            col,
            layout,
            tasks=args.task,
            model=plan.space,
            depth=args.k,
            progress=None if quiet else progress_bar("queries", unit="query"),
        )
        if args.report:
            from xmodal.eval.runner import report_runs

            for name, r in results.items():
                report_runs(
                    col,
                    {plan.label: r.eval},
                    r.qrels,
                    report_dir(args.report, name),
                    title=f"{layout.name} / {name}: {r.task.description}",
                )
    code = _print_bench(
        args,
        layout.name,
        plan.label,
        plan.db,
        {n: (r.task.metric, r.eval.result) for n, r in results.items()},
    )
    if args.report and not args.json:
        print(f"reports: {args.report}/<task>/index.html")
    return code


def _print_bench(
    args: argparse.Namespace,
    name: str,
    label: str,
    db: str | None,
    results: dict[str, tuple[str, Any]],
) -> int:
    if args.json:
        tasks = {
            n: {"metric": metric, **finite(r.means), "num_queries": r.num_queries}
            for n, (metric, r) in results.items()
        }
        print_json({"benchmark": name, "db": db, "space": label, "tasks": tasks})
        return 0
    print(f"{name} ({label})" + (f", collection {db}" if db else ""))
    print(f"{'task':<20} {'queries':>7} " + " ".join(f"{c:>9}" for c in _BENCH_COLUMNS))
    for n, (_, r) in results.items():
        cells = " ".join(f"{r.means.get(c, float('nan')):9.4f}" for c in _BENCH_COLUMNS)
        print(f"{n:<20} {r.num_queries:>7} {cells}")
    return 0
