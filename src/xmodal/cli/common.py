"""What every command shares: the parser class, one-line errors, JSON output, checks."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

from xmodal.errors import UsageError
from xmodal.jsonsafe import finite_or_none
from xmodal.paths import default_collection

if TYPE_CHECKING:
    from xmodal.collection import Collection

EXIT_USAGE = 2

Handler: TypeAlias = Callable[[argparse.Namespace], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


#: what ``--db`` means when it is left out, for every command's help
DB_DEFAULT = (
    "default: $XMODAL_DB, else $XDG_DATA_HOME/xmodal/default or ~/.local/share/xmodal/default"
)


def _examples(lines: Sequence[str]) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_command(
    sub: Subparsers, name: str, help: str, examples: Sequence[str]
) -> argparse.ArgumentParser:
    """A command whose ``--help`` says what it does and ends with examples of its use."""
    return sub.add_parser(
        name,
        help=help,
        description=help,
        epilog=_examples(examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_group(
    sub: Subparsers, name: str, help: str, dest: str, examples: Sequence[str]
) -> Subparsers:
    """A command with subcommands of its own (``bench list``, ``models pull``)."""
    group = add_command(sub, name, help, examples)
    return group.add_subparsers(
        dest=dest,
        required=True,
        parser_class=Parser,
        title="commands",
        metavar="COMMAND",
        help=f"run `xmodal {name} COMMAND --help` for its options and examples",
    )


def add_db(parser: argparse.ArgumentParser, what: str = "collection folder") -> None:
    parser.add_argument("--db", metavar="DIR", help=f"{what} ({DB_DEFAULT})")


def add_wait(parser: argparse.ArgumentParser, help: str, metavar: str = "SECONDS") -> None:
    """``--wait``, for commands that write: how long to wait for another writer (checked by
    :func:`check_wait`)."""
    parser.add_argument("--wait", type=float, default=0.0, metavar=metavar, help=help)


def end_command(parser: argparse.ArgumentParser, func: Handler) -> None:
    """Close a command's arguments the usual way: a ``--json`` switch last, then its handler."""
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=func)


def db_path(args: argparse.Namespace) -> str:
    """The collection a command works on: ``--db``, else the default collection."""
    if args.db is None:
        return str(default_collection())
    if not args.db.strip():
        raise UsageError("--db needs a folder, not an empty name")
    return str(args.db)


def open_existing(args: argparse.Namespace) -> Collection:
    """Open the collection of ``--db`` (or the default one) for reading; it must exist."""
    from xmodal.collection import Collection

    path = db_path(args)
    if args.db is None and not os.path.isdir(os.path.expanduser(path)):
        which = "named by $XMODAL_DB" if os.environ.get("XMODAL_DB") else "the default collection"
        raise UsageError(
            f"no collection at {path} ({which}); index a folder into it with"
            " `xmodal index PATH`, or name another with --db DIR"
        )
    return Collection.open(path, create=False)


def warn(message: str) -> None:
    print(f"xmodal: warning: {' '.join(message.split())}", file=sys.stderr)


def fail(message: str) -> int:
    print(f"xmodal: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def finite(values: dict[str, float]) -> dict[str, float | None]:
    # JSON has no infinity: a median rank of "never found" is written as null
    return {k: finite_or_none(v) for k, v in values.items()}


def check_wait(value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise UsageError("--wait must be a number of seconds, 0 or more")
