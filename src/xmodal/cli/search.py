"""``xmodal search``: text, image and mixed queries with metadata filters."""

from __future__ import annotations

import argparse
import fnmatch
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from xmodal.cli.apply_search import (
    add_apply_options,
    apply_filter_fields,
    check_apply_args,
    like_hits,
)
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
from xmodal.cli.scale import index_progress
from xmodal.cli.search_refine import (
    add_refine_options,
    check_refine_options,
    print_why,
    refine_hits,
)
from xmodal.errors import UsageError, XmodalError

if TYPE_CHECKING:
    from xmodal.collection import Collection
    from xmodal.query.filters import Filters
    from xmodal.records import SearchHit

#: display columns of the text shown under a hit
SNIPPET_WIDTH = 80

#: one search of a session: (query text, query image) to hits
_Run: TypeAlias = "Callable[[str | None, str | None], list[SearchHit]]"

EXAMPLES = (
    'xmodal search "red bicycle" --min-score 0.3',
    "xmodal search '\"beach\" + 0.5*img:sunset.jpg' --type image --after 2024-01-01 --open 1",
    'xmodal search "the invoice is overdue" --type audio --group file',
)


def add_parser(sub: Subparsers) -> None:
    from xmodal.query.fusion import SCORE_SCALES

    se = add_command(sub, "search", "search with text, an image, or a mixed query", EXAMPLES)
    se.epilog = f"{SCORE_SCALES}\n\n{se.epilog}"
    se.add_argument("query", nargs="?", help='text, or a mixed query: "beach" + 0.5*img:a.jpg')
    add_db(se)
    _add_media_options(se)
    se.add_argument(
        "--exact",
        action="store_true",
        help="search every vector exactly, whatever index the collection keeps (to measure"
        " an approximate index's recall against)",
    )
    se.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    se.add_argument("--model", help="search only this space (see `xmodal info`)")
    se.add_argument(
        "--type",
        action="append",
        help="only these modalities: image, text, audio, video (repeatable)",
    )
    se.add_argument(
        "--group",
        choices=("file",),
        help="file: keep the best moment of each recording or video (moments rank apart by"
        " default)",
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
    _add_scoring_and_session(se)
    add_apply_options(se)
    add_refine_options(se)
    end_command(se, cmd_search)


def _add_media_options(se: argparse.ArgumentParser) -> None:
    se.add_argument("--image", help="an image to search with")
    se.add_argument(
        "--audio",
        metavar="FILE",
        help="a recording to search with: sounds like it, and the words spoken in it",
    )
    se.add_argument(
        "--video",
        metavar="FILE",
        help="a video clip to search with: videos whose shots look like its shots, in order",
    )


def _add_scoring_and_session(se: argparse.ArgumentParser) -> None:
    se.add_argument(
        "--min-score",
        type=float,
        metavar="X",
        help="drop results scoring below X (on the scale below), so fewer than k may come back",
    )
    se.add_argument(
        "--use-name",
        action="store_true",
        help="let a query image's file name count as words of the query (it does not by default)",
    )
    se.add_argument(
        "--interactive",
        action="store_true",
        help="read one query per line from stdin (mixed syntax, img:PATH terms) and answer "
        "each with the models kept loaded",
    )


def _filters(args: argparse.Namespace) -> Filters:
    from xmodal.query.filters import Filters, parse_date, parse_modalities

    return Filters(
        modalities=parse_modalities(args.type),
        after=parse_date(args.after) if args.after else None,
        before=parse_date(args.before) if args.before else None,
        path_globs=tuple(os.path.expanduser(p) for p in (args.path or ())),
        **apply_filter_fields(args),
    )


def _weights(args: argparse.Namespace) -> dict[str, float]:
    weights = {}
    for w in args.weight or ():
        name, _, value = w.rpartition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            raise UsageError(f"--weight expects SPACE=NUMBER, got {w!r}") from None
        if not name or not math.isfinite(weights[name]):
            raise UsageError(f"--weight expects SPACE=NUMBER, got {w!r}")
    return weights


def _warn_unmatched_globs(col: Collection, globs: Sequence[str]) -> None:
    paths = list(col.ids())
    for glob in globs:
        pattern = os.path.expanduser(glob)
        if not any(fnmatch.fnmatchcase(p, pattern) for p in paths):
            warn(f"--path {glob!r} matches no item of the collection")


def _warn_absent_types(col: Collection, filters: Filters) -> None:
    """A modality the collection holds none of matches nothing: say so, once."""
    for m in sorted(filters.modalities - col.modalities()):
        warn(f"the collection holds no {m} items; --type {m} matches nothing")


def clock(seconds: float) -> str:
    """``01:23`` (or ``1:02:03`` past an hour) for a moment in a recording."""
    whole = int(seconds)
    h, rest = divmod(whole, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


def print_hits(hits: Sequence[SearchHit], extras: Sequence[dict[str, Any]] = ()) -> None:
    if not hits:
        print("no results")
    for rank, h in enumerate(hits, start=1):
        where = ""
        text = " ".join(h.text.split())
        if h.start is not None and h.end is not None:
            where = f" @ {clock(h.start)}–{clock(h.end)}"
            if h.shot is not None:
                where += f"  (shot {h.shot}) "
            if text:
                where += f' "…{cut(text, SNIPPET_WIDTH - 4)}…"'
            text = ""
        if h.page is not None:
            where += f" page {h.page}"
        snippet = cut(text, SNIPPET_WIDTH)
        print(f"{rank:3d}  {h.score:7.4f}  {h.modality:<5}  {h.path}{where}")
        if snippet:
            print(f"                       {snippet}")
        if rank <= len(extras) and "why" in extras[rank - 1]:
            print_why(extras[rank - 1]["why"])


def _print_hits(
    hits: Sequence[SearchHit], as_json: bool, extras: Sequence[dict[str, Any]] = ()
) -> None:
    if as_json:
        extra = list(extras) + [{}] * (len(hits) - len(extras))
        print_json({"results": [h.to_json() | e for h, e in zip(hits, extra, strict=True)]})
    else:
        print_hits(hits, extras)


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


def _check_args(args: argparse.Namespace) -> None:
    if args.interactive and (args.query is not None or args.image is not None):
        raise UsageError("--interactive reads its queries from stdin; give no QUERY or --image")
    if args.interactive and (args.audio is not None or args.video is not None):
        raise UsageError("--interactive reads its queries from stdin; give no --audio or --video")
    check_apply_args(args)
    asked = (args.query, args.image, args.audio, args.video, args.like)
    if not args.interactive and all(a is None for a in asked):
        raise UsageError("search needs a QUERY, --image PATH, --audio FILE, --video FILE, or both")
    if args.min_score is not None and not math.isfinite(args.min_score):
        raise UsageError("--min-score must be a finite number")
    for option, n in (("--open", args.open), ("--reveal", args.reveal)):
        if n is not None and n < 1:
            raise UsageError(f"{option} takes a rank, 1 or more")


def cmd_search(args: argparse.Namespace) -> int:
    _check_args(args)
    check_refine_options(args)
    weights = _weights(args)
    filters = _filters(args)
    with open_existing(args) as col:
        _warn_absent_types(col, filters)
        col.indexes.progress = index_progress()

        audio, video = args.audio, args.video

        def run(query: str | None, image: str | None) -> list[SearchHit]:
            return col.search(
                query,
                image=image,
                k=args.k,
                model=args.model,
                filters=filters,
                fusion=args.fusion,
                weights=weights or None,
                min_score=args.min_score,
                use_name=args.use_name,
                expand=args.expand,
                exact=args.exact,
                audio=audio,
                group_files=args.group == "file",
                video=video,
            )

        if args.interactive:
            return _interactive(run, args.json)
        hits = like_hits(col, args, filters) if args.like else run(args.query, args.image)
        if not hits and args.path:
            _warn_unmatched_globs(col, args.path)
        hits, extras = refine_hits(col, args, hits)
    _print_hits(hits, args.json, extras)
    _act_on(args, hits)
    return 0


def _interactive(run: _Run, as_json: bool) -> int:
    """One answer per non-blank line of stdin; a line that fails is answered with its error
    (on stderr, or an ``{"error": ...}`` line with --json) and the session goes on. Text
    answers are separated by a blank line. Exit 2 if any line failed."""
    failed = False
    answered = False
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            hits = run(line.strip(), None)
        except XmodalError as e:
            failed = True
            if as_json:
                print_json({"error": " ".join(str(e).split())})
            else:
                fail(str(e))
        else:
            if answered and not as_json:
                print()
            _print_hits(hits, as_json)
            answered = True
        sys.stdout.flush()
    return 2 if failed else 0
