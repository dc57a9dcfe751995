"""``xmodal watch``: keep a collection current with the folders' file events."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from xmodal.cli.common import Subparsers, add_command, add_db, db_path, print_json

EXAMPLES = (
    "xmodal watch ~/Pictures",
    "xmodal watch ~/Pictures ~/Documents --db ~/collections/home --debounce 2",
)


def add_parser(sub: Subparsers) -> None:
    from xmodal.watch import DEBOUNCE, MAX_DELAY

    w = add_command(
        sub, "watch", "index folders, then keep the index current as files change", EXAMPLES
    )
    w.add_argument("paths", nargs="+", metavar="PATH", help="folders to watch")
    add_db(w)
    w.add_argument("--model", action="append", help="encoders of a new collection (repeatable)")
    w.add_argument(
        "--debounce",
        type=float,
        default=DEBOUNCE,
        metavar="S",
        help=f"index once the folders are quiet for S seconds (default {DEBOUNCE})",
    )
    w.add_argument(
        "--max-delay",
        type=float,
        default=MAX_DELAY,
        metavar="S",
        help=f"in a long burst of changes, index at least every S seconds (default {MAX_DELAY})",
    )
    w.add_argument(
        "--json", action="store_true", help="print each run's report as one JSON line"
    )
    w.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection
    from xmodal.errors import UsageError
    from xmodal.records import IndexReport
    from xmodal.watch import Watcher

    if not (args.debounce >= 0 and args.max_delay > 0):
        raise UsageError("--debounce must be 0 or more and --max-delay more than 0 seconds")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    def on_report(report: IndexReport) -> None:
        if args.json:
            print_json(report.to_json())
        else:
            print(report.summary())
        sys.stdout.flush()

    with Collection.open(db_path(args)) as col:
        watcher = Watcher(
            col,
            args.paths,
            models=args.model,
            debounce=args.debounce,
            max_delay=args.max_delay,
            on_report=on_report,
        )
        watcher.run(stop)
    return 0
