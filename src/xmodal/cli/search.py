"""``xmodal search``: text, image and mixed queries with metadata filters."""

from __future__ import annotations

import argparse
import fnmatch
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_db,
    end_command,
    fail,
    open_existing,
    print_json,
    warn,
)
from xmodal.cli.display import cut
from xmodal.errors import UsageError

if TYPE_CHECKING:
    from xmodal.collection import Collection
    from xmodal.query.filters import Filters
    from xmodal.records import SearchHit

#: display columns of the text shown under a hit
SNIPPET_WIDTH = 80

EXAMPLES = (
    'xmodal search "red bicycle"',
    "xmodal search --image holiday.jpg -k 20 --contact-sheet hits.png",
    "xmodal search '\"beach\" + 0.5*img:sunset.jpg' --type image --after 2024-01-01 --open 1",
)


def add_parser(sub: Subparsers) -> None:
    se = add_command(sub, "search", "search with text, an image, or a mixed query", EXAMPLES)
    se.add_argument("query", nargs="?", help='text, or a mixed query: "beach" + 0.5*img:a.jpg')
    add_db(se)
    se.add_argument("--image", help="an image to search with")
    se.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    se.add_argument("--model", help="search only this space (see `xmodal info`)")
    se.add_argument(
        "--type", action="append", help="only these modalities: image, text (repeatable)"
    )
    se.add_argument("--after", help="modified on or after this date (YYYY-MM-DD)")
    se.add_argument("--before", help="modified before this date (YYYY-MM-DD)")
    se.add_argument(
        "--path", action="append", metavar="GLOB", help="only paths matching (repeatable)"
    )
    se.add_argument(
        "--fusion",
        choices=("rrf", "weighted"),
        default="rrf",
        help="how rankings of several spaces combine: reciprocal rank (default) or scores",
    )
    se.add_argument(
        "--weight", action="append", metavar="SPACE=W", help="weight of a space (repeatable)"
    )
    se.add_argument(
        "--open", type=int, metavar="N", help="open the N-th hit with the system's opener"
    )
    se.add_argument("--reveal", type=int, metavar="N", help="open the folder of the N-th hit")
    se.add_argument(
        "--contact-sheet",
        metavar="FILE",
        help="draw the hits into a PNG: thumbnails with rank, score and file name",
    )
    end_command(se, cmd_search)


def _filters(args: argparse.Namespace) -> Filters:
    from xmodal.query.filters import Filters, parse_date, parse_modalities

    return Filters(
        modalities=parse_modalities(args.type),
        after=parse_date(args.after) if args.after else None,
        before=parse_date(args.before) if args.before else None,
        path_globs=tuple(os.path.expanduser(p) for p in (args.path or ())),
    )


def _weights(args: argparse.Namespace) -> dict[str, float]:
    weights = {}
    for w in args.weight or ():
        name, _, value = w.rpartition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            raise UsageError(f"--weight expects SPACE=NUMBER, got {w!r}") from None
    return weights


def _warn_unmatched_globs(col: Collection, globs: Sequence[str]) -> None:
    paths = list(col.ids())
    for glob in globs:
        pattern = os.path.expanduser(glob)
        if not any(fnmatch.fnmatchcase(p, pattern) for p in paths):
            warn(f"--path {glob!r} matches no item of the collection")


def print_hits(hits: Sequence[SearchHit]) -> None:
    if not hits:
        print("no results")
    for rank, h in enumerate(hits, start=1):
        where = ""
        if h.start is not None and h.end is not None:
            where = f" [{h.start:.1f}-{h.end:.1f}s]"
        snippet = cut(" ".join(h.text.split()), SNIPPET_WIDTH)
        print(f"{rank:3d}  {h.score:7.4f}  {h.modality:<5}  {h.path}{where}")
        if snippet:
            print(f"                       {snippet}")


def _chosen(option: str, n: int | None, hits: Sequence[SearchHit]) -> SearchHit | None:
    if n is None:
        return None
    if not 1 <= n <= len(hits):
        raise UsageError(f"{option} {n}: there are {len(hits)} results, pick 1 to {len(hits)}")
    return hits[n - 1]


def _act_on(args: argparse.Namespace, hits: Sequence[SearchHit]) -> None:
    """What the user asked to do with the hits beyond printing them."""
    from xmodal.cli.opener import open_path

    to_open = _chosen("--open", args.open, hits)
    to_reveal = _chosen("--reveal", args.reveal, hits)
    if args.contact_sheet:
        from xmodal.contact_sheet import hits_sheet

        sheet = hits_sheet(hits, args.contact_sheet)
        if not args.json:
            print(f"contact sheet: {sheet}")
    if to_open is not None:
        open_path(to_open.path)
    if to_reveal is not None:
        open_path(to_reveal.path, reveal=True)


def cmd_search(args: argparse.Namespace) -> int:
    if args.query is None and args.image is None:
        return fail("search needs a QUERY, --image PATH, or both")
    weights = _weights(args)
    for option, n in (("--open", args.open), ("--reveal", args.reveal)):
        if n is not None and n < 1:
            return fail(f"{option} takes a rank, 1 or more")
    with open_existing(args) as col:
        hits = col.search(
            args.query,
            image=args.image,
            k=args.k,
            model=args.model,
            filters=_filters(args),
            fusion=args.fusion,
            weights=weights or None,
        )
        if not hits and args.path:
            _warn_unmatched_globs(col, args.path)
    if args.json:
        print_json({"results": [h.to_json() for h in hits]})
    else:
        print_hits(hits)
    _act_on(args, hits)
    return 0
