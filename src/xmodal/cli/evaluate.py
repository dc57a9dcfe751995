"""``xmodal metrics`` and ``xmodal eval``: retrieval metrics of runs and of collections."""

from __future__ import annotations

import argparse
import os
from typing import Any

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_db,
    end_command,
    fail,
    finite,
    open_existing,
    print_json,
)


def add_parser(sub: Subparsers) -> None:
    me = add_command(
        sub,
        "metrics",
        "retrieval metrics of a TREC run against qrels",
        (
            "xmodal metrics --qrels qrels.txt --run run.txt",
            "xmodal metrics --qrels qrels.txt --run run.txt -k 1 -k 20 --per-query",
        ),
    )
    me.add_argument("--qrels", required=True, help="TREC qrels: qid 0 docid relevance")
    me.add_argument("--run", required=True, help="TREC run: qid Q0 docid rank score tag")
    me.add_argument("-k", type=int, action="append", help="cutoffs (repeatable; default 1 5 10)")
    me.add_argument("--per-query", action="store_true", help="also every query's values")
    end_command(me, cmd_metrics)

    ev = add_command(
        sub,
        "eval",
        "run labelled queries on a collection and score them",
        (
            "xmodal eval --queries queries.tsv --qrels qrels.txt",
            "xmodal eval --db ~/collections/home --queries q.tsv --qrels qrels.txt"
            " --report out/ --compare classic",
        ),
    )
    add_db(ev)
    ev.add_argument("--queries", required=True, help="TSV: qid<TAB>query (image:PATH = image)")
    ev.add_argument("--qrels", required=True, help="TREC qrels with item ids (see `ids`)")
    ev.add_argument("--run-out", help="write the run here in TREC format")
    ev.add_argument("-k", type=int, default=100, help="results per query (default 100)")
    ev.add_argument("--model", help="search only this space")
    ev.add_argument(
        "--report",
        metavar="DIR",
        help="write an HTML report with plots here (and the reliability diagram of calibrated "
        "spaces)",
    )
    ev.add_argument(
        "--compare",
        action="append",
        metavar="SPACE",
        help="also evaluate this space and compare it in the report (repeatable)",
    )
    end_command(ev, cmd_eval)


def cmd_metrics(args: argparse.Namespace) -> int:
    from xmodal.eval.metrics import evaluate_files, format_table

    result = evaluate_files(args.qrels, args.run, ks=tuple(args.k or (1, 5, 10)))
    if args.json:
        out: dict[str, Any] = dict(finite(result.means))
        out["num_queries"] = result.num_queries
        if args.per_query:
            out["per_query"] = {q: finite(m) for q, m in result.per_query.items()}
        print_json(out)
        return 0
    if args.per_query:
        for qid, values in result.per_query.items():
            for name, v in values.items():
                print(f"{name}\t{qid}\t{v:.4f}")
    print(f"queries: {result.num_queries}")
    print(format_table(result.means))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from xmodal.eval.metrics import DEFAULT_KS, format_table
    from xmodal.eval.runner import RunOptions, evaluate_collection, read_queries
    from xmodal.eval.trec import read_qrels, write_run
    from xmodal.progress import progress_bar

    if args.k <= 0:
        return fail("-k must be positive")
    queries = read_queries(args.queries)
    qrels = read_qrels(args.qrels)
    if args.compare and not args.report:
        return fail("--compare needs --report DIR")
    with open_existing(args) as col:
        evals = {}
        for model in [args.model, *(args.compare or [])]:
            evals[model or "all spaces"] = evaluate_collection(
                col,
                queries,
                qrels,
                ks=sorted({*DEFAULT_KS, args.k}),
                options=RunOptions(
                    depth=args.k,
                    model=model,
                    base_dir=os.path.dirname(os.path.abspath(args.queries)),
                ),
                progress=None if args.json else progress_bar("queries", unit="query"),
            )
        ev = next(iter(evals.values()))
        if args.report:
            from xmodal.eval.calibration import load_calibration, reliability_curves
            from xmodal.eval.runner import report_runs

            base = os.path.dirname(os.path.abspath(args.queries))
            curves = reliability_curves(
                col, queries, qrels, load_calibration(col), RunOptions(args.k, base_dir=base)
            )
            page = report_runs(
                col, evals, qrels, args.report, title=f"xmodal eval: {col.root}", reliability=curves
            )
            if not args.json:
                print(f"report: {page}")
    if args.run_out:
        from xmodal.eval.trec import ranking_order

        write_run(args.run_out, {q: ranking_order(s) for q, s in ev.run.items()}, tag="xmodal")
    if args.json:
        out: dict[str, Any] = dict(finite(ev.result.means))
        out["num_queries"] = ev.result.num_queries
        print_json(out)
        return 0
    print(f"queries evaluated: {ev.result.num_queries}")
    print(format_table(ev.result.means))
    return 0
