"""The ``xmodal`` parser and ``main``: run one command, map library errors to exit status 2."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from xmodal.cli import (
    apply,
    ask,
    bench,
    calibrate,
    demo,
    evaluate,
    index,
    info,
    items,
    models,
    search,
    serve,
    train,
    vectors,
    watch,
)
from xmodal.cli.common import Parser, fail
from xmodal.errors import XmodalError

#: the command groups in the order ``xmodal --help`` lists them
COMMANDS = (
    index, search, serve, items, info, evaluate, bench, models, train, demo, apply, ask,
    calibrate, watch, vectors,
)  # fmt: skip

EPILOG = """examples:
  xmodal index ~/Pictures          # into the default collection
  xmodal search "red bicycle"
  xmodal info"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="xmodal",
        description="Cross-modal retrieval: index media, search it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from xmodal import __version__

    p.add_argument("--version", action="version", version=f"xmodal {__version__}")
    p.add_argument(
        "--debug",
        action="store_true",
        help="on an error, also print the traceback of its cause (or set XMODAL_DEBUG=1)",
    )
    sub = p.add_subparsers(
        dest="command",
        required=True,
        parser_class=Parser,
        title="commands",
        metavar="COMMAND",
        help="run `xmodal COMMAND --help` for its options and examples",
    )
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _quiet_libraries(online: bool) -> None:
    # Model loaders print their own bars and hub warnings, and some reach for the network on
    # every load; the CLI shows one bar of its own and works from the cache. A command that
    # downloads (``models pull``) must not be told it is offline by the CLI itself, so only
    # the user's own setting can stop it.
    if not online:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _print_traceback(error: BaseException) -> None:
    # library errors often hide their cause (``raise ... from None``) to keep the user's
    # message to one line; debugging is when that cause is wanted, so show the whole chain
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__suppress_context__ = False
        link = link.__cause__ or link.__context__
    traceback.print_exception(error, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("XMODAL_DEBUG", "") not in ("", "0")
    _quiet_libraries(online=getattr(args, "online", False))
    try:
        return int(args.func(args))
    except XmodalError as e:
        if debug:
            _print_traceback(e)
        return fail(str(e))
    except KeyboardInterrupt:
        print("xmodal: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
