"""The options of ``xmodal search`` that act on its hits: expansion, calibrated cutoff and
explanations (``--expand``, ``--min-relevance``, ``--explain``)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from xmodal.errors import UsageError

if TYPE_CHECKING:
    from xmodal.collection import Collection
    from xmodal.records import SearchHit


def add_refine_options(se: argparse.ArgumentParser) -> None:
    se.add_argument(
        "--expand",
        action="store_true",
        help="pseudo-relevance feedback: add the first pass's best hits to the query (Rocchio)",
    )
    se.add_argument(
        "--min-relevance",
        type=float,
        metavar="P",
        help="keep only hits whose calibrated probability of relevance is at least P (0..1; "
        "needs `xmodal calibrate` first)",
    )
    se.add_argument(
        "--explain",
        action="store_true",
        help="say why each hit matched: each space's part, the words that matched, the "
        'nearest labelled neighbour ("why" in JSON)',
    )


def check_refine_options(args: argparse.Namespace) -> None:
    p = args.min_relevance
    if p is not None and not (math.isfinite(p) and 0.0 <= p <= 1.0):
        raise UsageError("--min-relevance takes a probability between 0 and 1")


def refine_hits(
    col: Collection, args: argparse.Namespace, hits: Sequence[SearchHit]
) -> tuple[list[SearchHit], list[dict[str, Any]]]:
    """The hits that pass ``--min-relevance``, and what each adds to its JSON."""
    kept = list(hits)
    extras: list[dict[str, Any]] = [{} for _ in kept]
    if args.min_relevance is not None:
        from xmodal.eval.calibration import keep_relevant, load_calibration

        passed = keep_relevant(kept, load_calibration(col), args.min_relevance)
        kept = [h for h, _ in passed]
        extras = [{"relevance": p} for _, p in passed]
    if args.explain and kept:
        from xmodal.apply.explain import explain

        query = args.query if args.query is not None else ""
        whys = explain(col, query, kept, args.fusion) if query else [{} for _ in kept]
        for extra, why in zip(extras, whys, strict=True):
            extra["why"] = why
    return kept, extras


def print_why(why: dict[str, Any]) -> None:
    """The explanation of one hit, under it."""
    parts = [
        f"{s} #{v['rank']} ({v['share']:.0%})" if v.get("rank") else f"{s} {v['score']:.3f}"
        for s, v in why.get("spaces", {}).items()
    ]
    if parts:
        print(f"                       spaces: {', '.join(parts)}")
    words = sorted({w for ws in why.get("words", {}).values() for w in ws})
    if words:
        print(f"                       words: {' '.join(words)}")
    for box in why.get("ocr", []):
        print(f"                       read in picture: {box['text']!r}")
    nb = why.get("neighbour")
    if nb:
        print(f"                       looks like: {nb['label'][:60]!r} ({nb['path']})")
