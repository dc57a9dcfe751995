"""``xmodal index``: add or re-index files and folders."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from xmodal.cli.common import Subparsers, check_wait, fail, print_json

if TYPE_CHECKING:
    from xmodal.ingest.commits import IndexInterrupted

#: the shell's status for a command stopped by SIGINT (128 + 2)
EXIT_INTERRUPTED = 130


def add_parser(sub: Subparsers) -> None:
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


def cmd_index(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection
    from xmodal.encoders.registry import info
    from xmodal.ingest.commits import IndexInterrupted
    from xmodal.ingest.pipeline import IndexOptions
    from xmodal.progress import progress_bar

    check_wait(args.wait)
    if args.workers is not None and args.workers < 1:
        return fail("--workers must be 1 or more")
    for name in args.model or ():
        info(name)  # an unknown encoder is refused before the collection folder is created
    options = IndexOptions(
        excludes=tuple(args.exclude or ()),
        include_hidden=args.hidden,
        workers=args.workers or 0,
    )
    with Collection.open(args.db) as col:
        try:
            report = col.index(
                args.paths,
                models=args.model,
                options=options,
                progress=None if (args.quiet or args.json) else progress_bar("indexing"),
                wait=args.wait,
            )
        except IndexInterrupted as stop:
            return _interrupted(stop, args.json)
    if args.json:
        print_json(report.to_json())
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


def _interrupted(stop: IndexInterrupted, as_json: bool) -> int:
    """Ctrl-C: the committed part stays; say how much, and how to finish."""
    if as_json:
        print_json({**stop.report.to_json(), "interrupted": True, "kept": stop.kept})
    print(
        f"interrupted: kept {stop.kept} of {stop.total} files; run the same command to finish",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED
