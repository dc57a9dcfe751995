"""The ``xmodal`` command: a thin client that parses arguments and calls the library."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from xmodal.errors import UsageError, XmodalError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _fail(message: str) -> int:
    print(f"xmodal: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _quiet_libraries() -> None:
    # model loaders print their own bars and hub warnings; the CLI shows one bar of its own
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


# -- index ----------------------------------------------------------------------------------


def _check_wait(value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise UsageError("--wait must be a number of seconds, 0 or more")


def cmd_index(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection
    from xmodal.encoders.registry import info
    from xmodal.ingest.pipeline import IndexOptions
    from xmodal.progress import progress_bar

    _check_wait(args.wait)
    if args.workers is not None and args.workers < 1:
        return _fail("--workers must be 1 or more")
    for name in args.model or ():
        info(name)  # an unknown encoder is refused before the collection folder is created
    options = IndexOptions(
        excludes=tuple(args.exclude or ()),
        include_hidden=args.hidden,
        workers=args.workers or 0,
    )
    with Collection.open(args.db) as col:
        report = col.index(
            args.paths,
            models=args.model,
            options=options,
            progress=None if (args.quiet or args.json) else progress_bar("indexing"),
            wait=args.wait,
        )
    if args.json:
        _print_json(report.to_json())
        return 0
    for note in col.notes:
        print(note, file=sys.stderr)
    if not args.quiet:
        for s in report.skipped[:20]:
            print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
        if len(report.skipped) > 20:
            print(f"... and {len(report.skipped) - 20} more skipped (see --json)", file=sys.stderr)
    print(report.summary())
    return 0


# -- search ---------------------------------------------------------------------------------


def _filters(args: argparse.Namespace) -> Any:
    from xmodal.query.filters import Filters, parse_date, parse_modalities

    return Filters(
        modalities=parse_modalities(args.type),
        after=parse_date(args.after) if args.after else None,
        before=parse_date(args.before) if args.before else None,
        path_globs=tuple(os.path.expanduser(p) for p in (args.path or ())),
    )


def cmd_search(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection

    if args.query is None and args.image is None:
        return _fail("search needs a QUERY, --image PATH, or both")
    weights = {}
    for w in args.weight or ():
        name, _, value = w.rpartition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            return _fail(f"--weight expects SPACE=NUMBER, got {w!r}")
    with Collection.open(args.db, create=False) as col:
        hits = col.search(
            args.query,
            image=args.image,
            k=args.k,
            model=args.model,
            filters=_filters(args),
            fusion=args.fusion,
            weights=weights or None,
        )
    if args.json:
        _print_json({"results": [h.to_json() for h in hits]})
        return 0
    if not hits:
        print("no results")
    for rank, h in enumerate(hits, start=1):
        where = ""
        if h.start is not None and h.end is not None:
            where = f" [{h.start:.1f}-{h.end:.1f}s]"
        snippet = " ".join(h.text.split())[:80]
        print(f"{rank:3d}  {h.score:7.4f}  {h.modality:<5}  {h.path}{where}")
        if snippet:
            print(f"                       {snippet}")
    return 0


# -- ids, items, remove, info ------------------------------------------------------------------


def cmd_ids(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection

    with Collection.open(args.db, create=False) as col:
        ids = col.ids()
    if args.json:
        _print_json(ids)
    else:
        for path, item_id in ids.items():
            print(f"{item_id}\t{path}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection

    _check_wait(args.wait)
    with Collection.open(args.db, create=False) as col:
        n = col.remove(args.targets, wait=args.wait)
    if args.json:
        _print_json({"removed": n})
    else:
        print(f"removed {n}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection

    with Collection.open(args.db, create=False) as col:
        counts: dict[str, int] = {}
        for item in col:
            counts[str(item.modality)] = counts.get(str(item.modality), 0) + 1
        spaces = {
            name: {"encoder": rec.spec.weights, "dim": rec.dim}
            for name, rec in col.store.spaces().items()
        }
        info = {
            "path": str(col.root),
            "items": sum(counts.values()),
            "by_modality": counts,
            "spaces": spaces,
            "problems": col.store.check_consistency() if args.check else None,
        }
        col_problems: list[str] = info["problems"] or []  # type: ignore[assignment]
    if args.json:
        _print_json(info)
        return 0 if not info["problems"] else 1
    print(f"collection {info['path']}: {info['items']} items {counts}")
    for name, sp in spaces.items():
        print(f"  space {name}: {sp['encoder']} (dim {sp['dim']})")
    if args.check:
        problems: list[str] = col_problems
        print("consistent" if not problems else "problems: " + "; ".join(problems))
        return 0 if not problems else 1
    return 0


# -- metrics --------------------------------------------------------------------------------


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    # JSON has no infinity: a median rank of "never found" is written as null
    return {k: (v if math.isfinite(v) else None) for k, v in values.items()}


def cmd_metrics(args: argparse.Namespace) -> int:
    from xmodal.eval.metrics import evaluate_files, format_table

    result = evaluate_files(args.qrels, args.run, ks=tuple(args.k or (1, 5, 10)))
    if args.json:
        out: dict[str, Any] = dict(_finite(result.means))
        out["num_queries"] = result.num_queries
        if args.per_query:
            out["per_query"] = {q: _finite(m) for q, m in result.per_query.items()}
        _print_json(out)
        return 0
    if args.per_query:
        for qid, values in result.per_query.items():
            for name, v in values.items():
                print(f"{name}\t{qid}\t{v:.4f}")
    print(f"queries: {result.num_queries}")
    print(format_table(result.means))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection
    from xmodal.eval.metrics import DEFAULT_KS, format_table
    from xmodal.eval.runner import evaluate_collection, read_queries
    from xmodal.eval.trec import read_qrels, write_run
    from xmodal.progress import progress_bar

    if args.k <= 0:
        return _fail("-k must be positive")
    queries = read_queries(args.queries)
    qrels = read_qrels(args.qrels)
    if args.compare and not args.report:
        return _fail("--compare needs --report DIR")
    with Collection.open(args.db, create=False) as col:
        evals = {}
        for model in [args.model, *(args.compare or [])]:
            evals[model or "all spaces"] = evaluate_collection(
                col,
                queries,
                qrels,
                depth=args.k,
                ks=sorted({*DEFAULT_KS, args.k}),
                model=model,
                base_dir=os.path.dirname(os.path.abspath(args.queries)),
                progress=None if args.json else progress_bar("queries", unit="query"),
            )
        ev = next(iter(evals.values()))
        if args.report:
            from xmodal.eval.runner import report_runs

            page = report_runs(col, evals, qrels, args.report, title=f"xmodal eval: {col.root}")
            if not args.json:
                print(f"report: {page}")
    if args.run_out:
        from xmodal.eval.trec import ranking_order

        write_run(args.run_out, {q: ranking_order(s) for q, s in ev.run.items()}, tag="xmodal")
    if args.json:
        out: dict[str, Any] = dict(_finite(ev.result.means))
        out["num_queries"] = ev.result.num_queries
        _print_json(out)
        return 0
    print(f"queries evaluated: {ev.result.num_queries}")
    print(format_table(ev.result.means))
    return 0


# -- bench ----------------------------------------------------------------------------------

_BENCH_COLUMNS = ("recall@1", "recall@5", "recall@10", "mrr", "map", "ndcg@10")


def cmd_bench_list(args: argparse.Namespace) -> int:
    from xmodal.eval.benchmarks import benchmark_names

    names = benchmark_names()
    if args.json:
        _print_json({"benchmarks": names})
    else:
        print("\n".join(names))
    return 0


def cmd_bench_prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xmodal.eval.benchmarks import benchmark_names, get_benchmark

    if args.name not in benchmark_names():
        return _fail(f"unknown benchmark {args.name!r}; known: {', '.join(benchmark_names())}")
    options: dict[str, Any] = {"seed": args.seed, "progress": not args.json}
    if args.oracle_captions:
        options["oracle_captions"] = True
    for key in ("size", "limit", "split", "n_images", "difficulty", "style"):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    try:
        layout = get_benchmark(args.name)(Path(args.out), **options)
    except TypeError as e:
        return _fail(f"{args.name} does not take that option ({e})")
    tasks = {t.name: t.num_queries for t in layout.tasks}
    if args.json:
        _print_json({"root": str(layout.root), "tasks": tasks, "counts": dict(layout.counts)})
    else:
        print(f"prepared {layout.name} in {layout.root}")
        for name, n in tasks.items():
            print(f"  task {name}: {n} queries")
    return 0


def cmd_bench_run(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection
    from xmodal.eval.bench import index_benchmark, run_tasks
    from xmodal.eval.benchmarks import load_layout
    from xmodal.progress import progress_bar

    layout = load_layout(args.data)
    if args.baseline == "random":
        from xmodal.eval.bench import random_baseline

        chance = random_baseline(layout, tasks=args.task, depth=args.k, seed=args.seed)
        return _print_bench(args, layout.name, "random", None, {
            n: (next(t for t in layout.tasks if t.name == n).metric, r) for n, r in chance.items()
        })  # fmt: skip
    models = args.model or None
    label = "+".join(models) if models else "default"
    slug = "".join(c if c.isalnum() or c in "-_+." else "_" for c in label)[:80]
    db = args.db or os.path.join(layout.root, f"db-{slug}")
    quiet = args.json
    with Collection.open(db) as col:
        index_benchmark(col, layout, models, None if quiet else progress_bar("indexing"))
        space = args.space or (models[0] if models and len(models) == 1 else None)
        results = run_tasks(
            col,
            layout,
            tasks=args.task,
            model=space,
            depth=args.k,
            progress=None if quiet else progress_bar("queries", unit="query"),
        )
        if args.report:
            from xmodal.eval.runner import report_runs

            for name, r in results.items():
                report_runs(
                    col,
                    {space or "all spaces": r.eval},
                    r.qrels,
                    os.path.join(args.report, name),
                    title=f"{layout.name} / {name}: {r.task.description}",
                )
    code = _print_bench(
        args,
        layout.name,
        space or "all spaces",
        db,
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
            n: {"metric": metric, **_finite(r.means), "num_queries": r.num_queries}
            for n, (metric, r) in results.items()
        }
        _print_json({"benchmark": name, "db": db, "space": label, "tasks": tasks})
        return 0
    print(f"{name} ({label})" + (f", collection {db}" if db else ""))
    print(f"{'task':<20} {'queries':>7} " + " ".join(f"{c:>9}" for c in _BENCH_COLUMNS))
    for n, (_, r) in results.items():
        cells = " ".join(f"{r.means.get(c, float('nan')):9.4f}" for c in _BENCH_COLUMNS)
        print(f"{n:<20} {r.num_queries:>7} {cells}")
    return 0


# -- models -----------------------------------------------------------------------------------


def cmd_models_list(args: argparse.Namespace) -> int:
    from xmodal.encoders.registry import families

    rows: list[dict[str, Any]] = []
    for inf in families():
        ok, why = inf.available()
        rows.append(
            {
                "name": inf.family,
                "description": inf.description,
                "modalities": sorted(str(m) for m in inf.modalities),
                "dim": inf.dim,
                "languages": list(inf.languages),
                "size": inf.size,
                "kind": inf.kind,
                "available": ok,
                "status": why,
            }
        )
    if args.json:
        _print_json({"models": rows})
        return 0
    for r in rows:
        mark = "yes" if r["available"] else "no "
        print(
            f"{r['name']:<16} {mark}  {','.join(r['modalities']):<11} dim {r['dim']!s:<5} "
            f"{r['size']:<18} {r['description']}"
        )
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from xmodal.encoders.registry import info, split_name

    family, _ = split_name(args.name)
    if family not in ("clip", "hf-clip"):
        inf = info(args.name)
        ok, why = inf.available()
        return _fail(f"nothing to pull for {args.name!r}: {why if ok else 'unavailable: ' + why}")
    from xmodal.encoders.clip import pull

    path = pull(args.name, progress=not args.json)
    if args.json:
        _print_json({"model": args.name, "path": str(path)})
    else:
        print(f"{args.name}: {path}")
    return 0


def cmd_models_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xmodal.encoders.classic import fit_from_folder

    size = args.k if args.k is not None else (256 if args.kind == "bovw" else 64)
    if size <= 0 or args.sample <= 0:
        return _fail("-k and --sample must be positive")
    out = fit_from_folder(
        args.kind,
        Path(args.folder),
        Path(args.out),
        sample=args.sample,
        k_or_dim=size,
        seed=args.seed,
        progress=not args.json,
    )
    name = f"classic:{args.kind}@{out}"
    if args.json:
        _print_json({"model": name, "path": str(out)})
    else:
        print(f"fitted {args.kind} on {args.folder}: index with --model {name}")
    return 0


# -- train ----------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from xmodal.learn.train import TrainConfig, train
    from xmodal.progress import progress_bar

    options: dict[str, Any] = {
        "train_data": args.data,
        "out": args.out,
        "method": args.method,
        "val_data": args.val,
        "image_encoder": args.image_encoder,
        "text_encoder": args.text_encoder,
        "seed": args.seed,
        "resume": args.resume,
        "progress": not args.json,
        "command": shlex.join(["xmodal", *sys.argv[1:]]),
    }
    for name in ("epochs", "dim", "batch_size", "lr", "patience", "device"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    for item in args.set or ():
        key, eq, raw = item.partition("=")
        if not eq:
            return _fail(f"--set expects KEY=VALUE, got {item!r}")
        try:
            options[key.replace("-", "_")] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.replace("-", "_")] = raw
    try:
        config = TrainConfig.from_json(options)
    except TypeError as e:
        return _fail(f"bad training option: {e}")
    config.validate()
    result = train(config, None if args.json else progress_bar)
    summary = {
        "out": str(result.out),
        "method": result.method,
        "model": f"trained:{result.out}",
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "seconds": round(result.seconds, 2),
        "metrics": _finite(dict(result.metrics)),
    }
    if args.json:
        _print_json(summary)
        return 0
    print(f"trained {result.method} in {result.seconds:.1f} s -> {result.out}")
    for k, v in sorted(result.metrics.items()):
        print(f"  validation {k}: {v:.4f}")
    print(f"index and search with --model trained:{result.out}")
    return 0


# -- demo -------------------------------------------------------------------------------------

#: English and Chinese words and a mixed query ("cars that are not red")
DEMO_QUERIES = ("red heart", "crying face", "一只猫", "汽车", "train", '"car" - "red"')


def cmd_demo(args: argparse.Namespace) -> int:
    from xmodal.demo import run_demo

    return run_demo(
        db=args.db,
        sample=args.sample,
        limit=args.limit,
        queries=args.queries or list(DEMO_QUERIES),
        k=args.k,
        progress=not args.quiet,
    )


# -- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="xmodal", description="Cross-modal retrieval: index media, search it.")
    from xmodal import __version__

    p.add_argument("--version", action="version", version=f"xmodal {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ix = sub.add_parser("index", help="index or re-index files and folders")
    ix.add_argument("paths", nargs="+", metavar="PATH")
    ix.add_argument("--db", required=True, help="collection folder (created if missing)")
    ix.add_argument("--model", action="append", help="encoder to add (repeatable)")
    ix.add_argument("--exclude", action="append", metavar="GLOB", help="skip matching paths")
    ix.add_argument("--hidden", action="store_true", help="include hidden files and folders")
    ix.add_argument("--workers", type=int, help="decoding threads (default: CPU count)")
    ix.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another index run on the same collection",
    )
    ix.add_argument("--json", action="store_true", help="print one JSON report")
    ix.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ix.set_defaults(func=cmd_index)

    se = sub.add_parser("search", help="search with text, an image, or a mixed query")
    se.add_argument("query", nargs="?", help='text, or a mixed query: "beach" + 0.5*img:a.jpg')
    se.add_argument("--db", required=True)
    se.add_argument("--image", help="an image to search with")
    se.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    se.add_argument("--model", help="search only this space")
    se.add_argument("--type", action="append", help="only these modalities: image, text")
    se.add_argument("--after", help="modified on or after this date (YYYY-MM-DD)")
    se.add_argument("--before", help="modified before this date (YYYY-MM-DD)")
    se.add_argument("--path", action="append", metavar="GLOB", help="only paths matching")
    se.add_argument("--fusion", choices=("rrf", "weighted"), default="rrf")
    se.add_argument("--weight", action="append", metavar="SPACE=W", help="weight of a space")
    se.add_argument("--json", action="store_true")
    se.set_defaults(func=cmd_search)

    ids = sub.add_parser("ids", help="list item ids by path")
    ids.add_argument("--db", required=True)
    ids.add_argument("--json", action="store_true")
    ids.set_defaults(func=cmd_ids)

    rm = sub.add_parser("remove", help="remove items by id or path")
    rm.add_argument("targets", nargs="+", metavar="ID_OR_PATH")
    rm.add_argument("--db", required=True)
    rm.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=cmd_remove)

    inf = sub.add_parser("info", help="what a collection holds")
    inf.add_argument("--db", required=True)
    inf.add_argument("--check", action="store_true", help="also verify consistency")
    inf.add_argument("--json", action="store_true")
    inf.set_defaults(func=cmd_info)

    me = sub.add_parser("metrics", help="retrieval metrics of a TREC run against qrels")
    me.add_argument("--qrels", required=True, help="TREC qrels: qid 0 docid relevance")
    me.add_argument("--run", required=True, help="TREC run: qid Q0 docid rank score tag")
    me.add_argument("-k", type=int, action="append", help="cutoffs (repeatable; default 1 5 10)")
    me.add_argument("--per-query", action="store_true", help="also every query's values")
    me.add_argument("--json", action="store_true")
    me.set_defaults(func=cmd_metrics)

    ev = sub.add_parser("eval", help="run labelled queries on a collection and score them")
    ev.add_argument("--db", required=True)
    ev.add_argument("--queries", required=True, help="TSV: qid<TAB>query (image:PATH = image)")
    ev.add_argument("--qrels", required=True, help="TREC qrels with item ids (see `ids`)")
    ev.add_argument("--run-out", help="write the run here in TREC format")
    ev.add_argument("-k", type=int, default=100, help="results per query (default 100)")
    ev.add_argument("--model", help="search only this space")
    ev.add_argument("--report", metavar="DIR", help="write an HTML report with plots here")
    ev.add_argument(
        "--compare",
        action="append",
        metavar="SPACE",
        help="also evaluate this space and compare it in the report (repeatable)",
    )
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_eval)

    be = sub.add_parser("bench", help="built-in benchmarks on real and synthetic data")
    bsub = be.add_subparsers(dest="bench_command", required=True, parser_class=_Parser)
    bl = bsub.add_parser("list", help="the built-in benchmarks")
    bl.add_argument("--json", action="store_true")
    bl.set_defaults(func=cmd_bench_list)
    bp = bsub.add_parser("prepare", help="build a benchmark's documents, queries and qrels")
    bp.add_argument("name", help="openmoji, emoji-styles or scenes")
    bp.add_argument("--out", required=True, metavar="DIR")
    bp.add_argument("--seed", type=int, default=0)
    bp.add_argument("--size", type=int, help="image side in pixels")
    bp.add_argument("--limit", type=int, help="openmoji: at most this many concepts")
    bp.add_argument("--split", choices=("train", "val", "test"), help="openmoji: which split")
    bp.add_argument(
        "--style", choices=("twemoji", "openmoji-black"), help="emoji-styles: drawing style"
    )
    bp.add_argument("--n-images", type=int, help="scenes: number of images")
    bp.add_argument("--difficulty", choices=("easy", "hard"), help="scenes: difficulty")
    bp.add_argument(
        "--oracle-captions",
        action="store_true",
        help="openmoji: give each drawing its caption as a sidecar (an upper-bound baseline)",
    )
    bp.add_argument("--json", action="store_true")
    bp.set_defaults(func=cmd_bench_prepare)
    br = bsub.add_parser("run", help="index a prepared benchmark and score every task")
    br.add_argument("--data", required=True, metavar="DIR", help="a folder made by prepare")
    br.add_argument("--db", help="collection folder (default: DIR/db-MODELS)")
    br.add_argument("--model", action="append", help="encoder to index with (repeatable)")
    br.add_argument("--space", help="search only this space")
    br.add_argument("--task", action="append", help="only this task (repeatable)")
    br.add_argument("-k", type=int, default=100, help="results per query (default 100)")
    br.add_argument("--report", metavar="DIR", help="write an HTML report per task here")
    br.add_argument(
        "--baseline", choices=("random",), help="score a baseline instead of a collection"
    )
    br.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
    br.add_argument("--json", action="store_true")
    br.set_defaults(func=cmd_bench_run)

    mo = sub.add_parser("models", help="encoders")
    msub = mo.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    ml = msub.add_parser("list", help="every registered encoder and whether it runs offline")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=cmd_models_list)
    mp = msub.add_parser("pull", help="download a model's weights into the cache (checksummed)")
    mp.add_argument("name", help="e.g. clip:ViT-B-32@laion2b_s34b_b79k")
    mp.add_argument("--json", action="store_true")
    mp.set_defaults(func=cmd_models_pull)
    mf = msub.add_parser("fit", help="fit a classic variant (bovw or pca) on a folder of images")
    mf.add_argument("kind", choices=("bovw", "pca"))
    mf.add_argument("folder", help="images to fit on (a sample of them)")
    mf.add_argument("--out", required=True, help="model file to write (.npz)")
    mf.add_argument("-k", type=int, help="visual words (bovw, default 256) or dimensions (pca, 64)")
    mf.add_argument("--sample", type=int, default=2000, help="at most this many images")
    mf.add_argument("--seed", type=int, default=0)
    mf.add_argument("--json", action="store_true")
    mf.set_defaults(func=cmd_models_fit)

    tr = sub.add_parser("train", help="train a joint image-text model from paired data")
    tr.add_argument("--data", required=True, help="a prepared OpenMoji split or a manifest TSV")
    tr.add_argument("--method", default="heads-infonce", help="heads-infonce, cca, ... ")
    tr.add_argument("--out", required=True, metavar="DIR", help="model directory to write")
    tr.add_argument("--val", help="validation data (default: a held-out share of --data)")
    tr.add_argument("--image-encoder", default="classic")
    tr.add_argument("--text-encoder", default="minilm")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--dim", type=int)
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--lr", type=float)
    tr.add_argument("--patience", type=int)
    tr.add_argument("--device", help="auto, cpu or cuda[:N]")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other option")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=cmd_train)

    de = sub.add_parser(
        "demo", help="index OpenMoji's drawings as wordless pictures with emoji-small and search"
    )
    de.add_argument("--db", help="collection folder (default: in the cache)")
    de.add_argument("--sample", help="folder for the sample files (default: in the cache)")
    de.add_argument("--limit", type=int, help="index only this many emojis")
    de.add_argument("--query", dest="queries", action="append", help="a query to run")
    de.add_argument("-k", type=int, default=5)
    de.add_argument("-q", "--quiet", action="store_true")
    de.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries()
    try:
        return int(args.func(args))
    except XmodalError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        print("xmodal: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
