"""``xmodal demo``: the main job on its embedded default, OpenMoji with emoji-small."""

from __future__ import annotations

import argparse

from xmodal.cli.common import Subparsers, add_command

#: English and Chinese words and a mixed query ("cars that are not red")
DEMO_QUERIES = ("red heart", "crying face", "一只猫", "汽车", "飞机", "train", '"car" - "red"')


def add_parser(sub: Subparsers) -> None:
    de = add_command(
        sub,
        "demo",
        "index OpenMoji's drawings as wordless pictures with emoji-small and search",
        ("xmodal demo", 'xmodal demo --limit 300 --query "a red apple" --query "猫"'),
    )
    de.add_argument("--db", metavar="DIR", help="collection folder (default: in the cache)")
    de.add_argument("--sample", help="folder for the sample files (default: in the cache)")
    de.add_argument("--limit", type=int, help="index only this many emojis")
    de.add_argument("--query", dest="queries", action="append", help="a query to run (repeatable)")
    de.add_argument("-k", type=int, default=5, help="results per query (default 5)")
    de.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    de.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from xmodal.demo import run_demo

    return run_demo(
        db=args.db,
        sample=args.sample,
        limit=args.limit,
        queries=args.queries or list(DEMO_QUERIES),
        k=args.k,
        progress=not args.quiet,
    )
