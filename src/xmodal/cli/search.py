"""``xmodal search``: text, image and mixed queries with metadata filters."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from xmodal.cli.common import Subparsers, end_command, fail, print_json

if TYPE_CHECKING:
    from xmodal.query.filters import Filters


def add_parser(sub: Subparsers) -> None:
    se = sub.add_parser("search", help="search with text, an image, or a mixed query")
    se.add_argument("query", nargs="?", help='text, or a mixed query: "beach" + 0.5*img:a.jpg')
    se.add_argument("--db", required=True)
    se.add_argument("--image", help="an image to search with")
    se.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    se.add_argument("--model", help="search only this space")
    se.add_argument("--type", action="append", help="only these modalities: image, text")
    se.add_argument("--after", help="modified on or after this date (YYYY-MM-DD)")
    se.add_argument("--before", help="modified before this date (YYYY-MM-DD)")
    se.add_argument("--path", action="append", metavar="GLOB", help="only paths matching")
    se.add_argument("--fusion", choices=("rrf", "weighted"), default="rrf")
    se.add_argument("--weight", action="append", metavar="SPACE=W", help="weight of a space")
    end_command(se, cmd_search)


def _filters(args: argparse.Namespace) -> Filters:
    from xmodal.query.filters import Filters, parse_date, parse_modalities

    return Filters(
        modalities=parse_modalities(args.type),
        after=parse_date(args.after) if args.after else None,
        before=parse_date(args.before) if args.before else None,
        path_globs=tuple(os.path.expanduser(p) for p in (args.path or ())),
    )


def cmd_search(args: argparse.Namespace) -> int:
    from xmodal.collection import Collection

    if args.query is None and args.image is None:
        return fail("search needs a QUERY, --image PATH, or both")
    weights = {}
    for w in args.weight or ():
        name, _, value = w.rpartition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            return fail(f"--weight expects SPACE=NUMBER, got {w!r}")
    with Collection.open(args.db, create=False) as col:
        hits = col.search(
            args.query,
            image=args.image,
            k=args.k,
            model=args.model,
            filters=_filters(args),
            fusion=args.fusion,
            weights=weights or None,
        )
    if args.json:
        print_json({"results": [h.to_json() for h in hits]})
        return 0
    if not hits:
        print("no results")
    for rank, h in enumerate(hits, start=1):
        where = ""
        if h.start is not None and h.end is not None:
            where = f" [{h.start:.1f}-{h.end:.1f}s]"
        snippet = " ".join(h.text.split())[:80]
        print(f"{rank:3d}  {h.score:7.4f}  {h.modality:<5}  {h.path}{where}")
        if snippet:
            print(f"                       {snippet}")
    return 0
