"""The options ``xmodal search`` takes from the apply layer: tag and flag filters, and more
like an item (``--like ID``, diversified with ``--diverse``)."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Any

from xmodal.errors import UsageError

if TYPE_CHECKING:
    from xmodal.collection import Collection
    from xmodal.query.filters import Filters
    from xmodal.records import SearchHit


def add_apply_options(se: argparse.ArgumentParser) -> None:
    se.add_argument(
        "--tag",
        action="append",
        metavar="LABEL",
        help="only items tagged LABEL by `xmodal tag` (repeatable: all of them)",
    )
    se.add_argument(
        "--exclude-flagged",
        action="store_true",
        help="leave out items that `xmodal flag` flagged",
    )
    se.add_argument(
        "--like",
        metavar="ID",
        help="find items like this one (by its own vectors) instead of a query",
    )
    se.add_argument(
        "--diverse",
        type=float,
        default=0.0,
        metavar="D",
        help="with --like: trade relevance for variety, 0 (none, default) to 1 (MMR)",
    )


def apply_filter_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Filters`` fields these options set."""
    return {"tags": tuple(args.tag or ()), "exclude_flagged": bool(args.exclude_flagged)}


def check_apply_args(args: argparse.Namespace) -> None:
    if args.like is not None and (args.query is not None or args.image is not None):
        raise UsageError("--like searches by an item; give no QUERY or --image with it")
    if args.like is not None and args.interactive:
        raise UsageError("--like and --interactive do not go together")
    if not (math.isfinite(args.diverse) and 0 <= args.diverse <= 1):
        raise UsageError("--diverse takes a number from 0 to 1")
    if args.diverse and args.like is None:
        raise UsageError("--diverse works with --like ID")


def like_hits(col: Collection, args: argparse.Namespace, filters: Filters) -> list[SearchHit]:
    from xmodal.apply.similar import similar

    hits = similar(col.store, args.like, args.k, diverse=args.diverse, filters=filters)
    if args.min_score is not None:
        hits = [h for h in hits if h.score >= args.min_score]
    return hits
