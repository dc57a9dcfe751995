"""What every command shares: the parser class, one-line errors, JSON output, checks."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeAlias

from xmodal.errors import UsageError
from xmodal.jsonsafe import finite_or_none

EXIT_USAGE = 2

Handler: TypeAlias = Callable[[argparse.Namespace], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def add_group(sub: Subparsers, name: str, help: str, dest: str) -> Subparsers:
    """A command with subcommands of its own (``bench list``, ``models pull``)."""
    group = sub.add_parser(name, help=help)
    return group.add_subparsers(dest=dest, required=True, parser_class=Parser)


def end_command(parser: argparse.ArgumentParser, func: Handler) -> None:
    """Close a command's arguments the usual way: a ``--json`` switch last, then its handler."""
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=func)


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
