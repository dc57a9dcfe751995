"""``xmodal ids`` and ``xmodal remove``: the items of a collection by id and path."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_db,
    add_wait,
    check_wait,
    end_command,
    open_existing,
    print_json,
    warn,
)
from xmodal.errors import UsageError


def add_parser(sub: Subparsers) -> None:
    ids = add_command(
        sub,
        "ids",
        "list item ids by path",
        ("xmodal ids", "xmodal ids --db ~/collections/home --json > ids.json"),
    )
    add_db(ids)
    end_command(ids, cmd_ids)

    rm = add_command(
        sub,
        "remove",
        "remove items by id or path (a folder removes everything under it)",
        ("xmodal remove ~/Pictures/old", "xmodal remove 3f2a9c1e0b7d4e5f --db ~/collections/home"),
    )
    rm.add_argument(
        "targets", nargs="+", metavar="ID_OR_PATH", help="item ids, files or folders to remove"
    )
    add_db(rm)
    add_wait(rm, "wait this long for another run that is writing to the collection")
    end_command(rm, cmd_remove)


def cmd_ids(args: argparse.Namespace) -> int:
    with open_existing(args) as col:
        ids = col.ids()
    if args.json:
        print_json(ids)
    else:
        for path, item_id in ids.items():
            print(f"{item_id}\t{path}")
    return 0


def unmatched(targets: Sequence[str], ids_by_path: Mapping[str, str]) -> list[str]:
    """The targets that name no item: neither an id, nor an item's path, nor a folder above
    one (what ``Collection.remove`` matches)."""
    known_ids = set(ids_by_path.values())
    missing = []
    for target in targets:
        if target in known_ids:
            continue
        path = os.path.abspath(os.path.expanduser(target))
        prefix = path.rstrip(os.sep) + os.sep
        if not any(p == path or p.startswith(prefix) for p in ids_by_path):
            missing.append(target)
    return missing


def cmd_remove(args: argparse.Namespace) -> int:
    check_wait(args.wait)
    with open_existing(args) as col:
        missing = unmatched(args.targets, col.ids())
        if len(missing) == len(args.targets):
            names = ", ".join(missing)
            raise UsageError(f"not in the collection {col.root}: {names}; nothing removed")
        if missing:
            warn(f"not in the collection, left alone: {', '.join(missing)}")
        n = col.remove(args.targets, wait=args.wait)
    if args.json:
        print_json({"removed": n})
    else:
        print(f"removed {n}")
    return 0
