"""``xmodal ids`` and ``xmodal remove``: the items of a collection by id and path."""

from __future__ import annotations

import argparse

from xmodal.cli.common import Subparsers, check_wait, end_command, print_json


def add_parser(sub: Subparsers) -> None:
    ids = sub.add_parser("ids", help="list item ids by path")
    ids.add_argument("--db", required=True)
    end_command(ids, cmd_ids)

    rm = sub.add_parser("remove", help="remove items by id or path")
    rm.add_argument("targets", nargs="+", metavar="ID_OR_PATH")
    rm.add_argument("--db", required=True)
    rm.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    end_command(rm, cmd_remove)


def cmd_ids(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection

    with Collection.open(args.db, create=False) as col:
        ids = col.ids()
    if args.json:
        print_json(ids)
    else:
        for path, item_id in ids.items():
            print(f"{item_id}\t{path}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection

    check_wait(args.wait)
    with Collection.open(args.db, create=False) as col:
        n = col.remove(args.targets, wait=args.wait)
    if args.json:
        print_json({"removed": n})
    else:
        print(f"removed {n}")
    return 0
