"""``xmodal calibrate``: fit each space's map from score to probability of relevance."""

from __future__ import annotations

import argparse
import os

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_db,
    end_command,
    open_existing,
    print_json,
)

EXAMPLES = (
    "xmodal calibrate --queries queries.tsv --qrels qrels.txt",
    "xmodal calibrate --db ~/photos --queries q.tsv --qrels qrels.txt --method platt"
    " --report out/",
)


def add_parser(sub: Subparsers) -> None:
    c = add_command(
        sub,
        "calibrate",
        "fit calibrated relevance on labelled queries (for search --min-relevance, ask)",
        EXAMPLES,
    )
    add_db(c)
    c.add_argument("--queries", required=True, help="TSV: qid<TAB>query (image:PATH = image)")
    c.add_argument("--qrels", required=True, help="TREC qrels with item ids (see `ids`)")
    c.add_argument(
        "--method",
        choices=("isotonic", "platt"),
        default="isotonic",
        help="isotonic regression (default) or Platt's logistic fit",
    )
    c.add_argument(
        "--model", action="append", metavar="SPACE", help="calibrate only this space (repeatable)"
    )
    c.add_argument("-k", type=int, default=50, help="results per query fitted (default 50)")
    c.add_argument("--seed", type=int, default=0, help="seed of the held-out half (default 0)")
    c.add_argument(
        "--report", metavar="DIR", help="write the reliability diagram (reliability.png) here"
    )
    end_command(c, cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xmodal.errors import UsageError
    from xmodal.eval.calibration import calibrate, save_calibration
    from xmodal.eval.runner import RunOptions, read_queries
    from xmodal.eval.trec import read_qrels
    from xmodal.progress import progress_bar

    if args.k <= 0:
        raise UsageError("-k must be positive")
    queries = read_queries(args.queries)
    qrels = read_qrels(args.qrels)
    with open_existing(args) as col:
        report = calibrate(
            col,
            queries,
            qrels,
            method=args.method,
            spaces=args.model,
            options=RunOptions(args.k, base_dir=os.path.dirname(os.path.abspath(args.queries))),
            seed=args.seed,
            progress=None if args.json else progress_bar("queries", unit="query"),
        )
        path = save_calibration(col.root, report.calibrators)
    out = report.to_json()
    out["file"] = str(path)
    if args.report:
        from xmodal.eval.report.reliability import RELIABILITY_PLOT, draw_reliability

        Path(args.report).mkdir(parents=True, exist_ok=True)
        plot = draw_reliability(Path(args.report) / RELIABILITY_PLOT, report.heldout)
        out["plot"] = str(plot)
    if args.json:
        print_json(out)
        return 0
    for name, c in report.calibrators.items():
        ece = "n/a" if c.ece_heldout is None else f"{c.ece_heldout:.4f}"
        print(f"{name}: {c.method} on {c.pairs} hits of {c.queries} queries, held-out ECE {ece}")
    print(f"saved: {path}")
    if "plot" in out:
        print(f"reliability diagram: {out['plot']}")
    return 0
