"""``xmodal info``: what a collection holds, and with ``--check`` whether it is consistent."""

from __future__ import annotations

import argparse

from xmodal.cli.common import Subparsers, end_command, print_json


def add_parser(sub: Subparsers) -> None:
    inf = sub.add_parser("info", help="what a collection holds")
    inf.add_argument("--db", required=True)
    inf.add_argument("--check", action="store_true", help="also verify consistency")
    end_command(inf, cmd_info)


def cmd_info(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection
    from xmodal.info import collection_info

    with Collection.open(args.db, create=False) as col:
        info = collection_info(col, check=args.check)
    status = 1 if info.problems else 0
    if args.json:
        print_json(info.to_json())
        return status
    print(f"collection {info.path}: {info.items} items {dict(info.by_modality)}")
    for name, space in info.spaces.items():
        print(f"  space {name}: {space.encoder} (dim {space.dim})")
    if info.problems is not None:
        print("consistent" if not info.problems else "problems: " + "; ".join(info.problems))
    return status
