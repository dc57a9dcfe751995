"""``xmodal tag``, ``dupes``, ``describe`` and ``flag``: what a collection is for beyond search."""

from __future__ import annotations

import argparse
import math
import textwrap

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
from xmodal.progress import progress_bar

TAG_EXAMPLES = (
    "xmodal tag --labels photo",
    "xmodal tag --db ~/.xmodal/icons --labels openmoji-groups --json",
    "xmodal tag --labels my-labels.txt && xmodal search beach --tag sea",
)
DUPES_EXAMPLES = (
    "xmodal dupes",
    "xmodal dupes --threshold 0.9 --contact-sheet dupes/",
    "xmodal dupes --no-semantic --json",
)
DESCRIBE_EXAMPLES = ("xmodal describe 3f9c2a1b0d4e5f60", "xmodal describe 3f9c2a1b0d4e5f60 --json")
FLAG_EXAMPLES = (
    "xmodal flag --policy policy.txt",
    "xmodal flag --policy policy.txt --json && xmodal search beach --exclude-flagged",
)
_WAIT_HELP = "wait up to S seconds for another writer to finish (default 0)"


def add_parser(sub: Subparsers) -> None:
    _add_tag(sub)
    _add_dupes(sub)
    de = add_command(
        sub, "describe", "describe an item, saying where each word came from", DESCRIBE_EXAMPLES
    )
    de.add_argument("id", help="the item's id (see `xmodal search --json` or `xmodal items`)")
    add_db(de)
    end_command(de, cmd_describe)
    _add_flag(sub)


def _add_tag(sub: Subparsers) -> None:
    from xmodal.apply.labels import BUILTIN
    from xmodal.apply.tagging import CUTOFF, MARGIN, MIN_CALIBRATION
    from xmodal.apply.tagging import __doc__ as rule

    tg = add_command(
        sub, "tag", "tag every item with the labels it is most about (zero-shot)", TAG_EXAMPLES
    )
    words = " ".join((rule or "").split("The calibration rule.")[-1].split())
    words = words.replace("``", "").replace("MIN_CALIBRATION", str(MIN_CALIBRATION))
    tg.epilog = f"{textwrap.fill('The rule: ' + words, 88)}\n\n{tg.epilog}"
    add_db(tg)
    tg.add_argument(
        "--labels",
        required=True,
        metavar="FILE|NAME",
        help=f"a file with one label per line (any language; 'LABEL | PROMPT ; PROMPT' to say "
        f"what to embed), or a built-in set: {', '.join(sorted(BUILTIN))}",
    )
    tg.add_argument(
        "--cutoff",
        type=float,
        default=CUTOFF,
        help=f"standard deviations a tag stands above the label's typical score (default {CUTOFF})",
    )
    tg.add_argument(
        "--margin",
        type=float,
        default=MARGIN,
        help=f"how far below the item's best label a tag may be (default {MARGIN})",
    )
    tg.add_argument("--dry-run", action="store_true", help="print the tags, store nothing")
    add_wait(tg, _WAIT_HELP, metavar="S")
    end_command(tg, cmd_tag)


def _add_dupes(sub: Subparsers) -> None:
    from xmodal.apply.settings import MAX_DISTANCE, THRESHOLD

    du = add_command(
        sub, "dupes", "group exact copies, near-copies and semantic duplicates", DUPES_EXAMPLES
    )
    add_db(du)
    du.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"cosine at which two items' vectors make duplicates (default {THRESHOLD})",
    )
    du.add_argument(
        "--max-distance",
        type=int,
        default=MAX_DISTANCE,
        metavar="BITS",
        help=f"perceptual-hash bits (of 64) near-copies may differ in (default {MAX_DISTANCE})",
    )
    du.add_argument("--no-semantic", action="store_true", help="compare no vectors")
    du.add_argument("--no-pixels", action="store_true", help="compute no perceptual hashes")
    du.add_argument("--contact-sheet", metavar="DIR", help="draw each group into DIR/group-NNN.png")
    end_command(du, cmd_dupes)


def _add_flag(sub: Subparsers) -> None:
    fl = add_command(sub, "flag", "flag items that a content policy names", FLAG_EXAMPLES)
    add_db(fl)
    fl.add_argument(
        "--policy",
        required=True,
        metavar="FILE",
        help="one rule a line: 'NAME: WORDS >= THRESHOLD' (WORDS: prompts separated by ';', "
        "or @nsfw for the bundled NSFW picture classifier; THRESHOLD: cosine, or probability)",
    )
    fl.add_argument("--dry-run", action="store_true", help="print the flags, store nothing")
    add_wait(fl, _WAIT_HELP, metavar="S")
    end_command(fl, cmd_flag)


def cmd_tag(args: argparse.Namespace) -> int:
    from xmodal.apply.labels import load_labels
    from xmodal.apply.tagging import tag_collection

    check_wait(args.wait)
    if not (math.isfinite(args.cutoff) and math.isfinite(args.margin) and args.margin >= 0):
        raise UsageError("--cutoff must be a number and --margin a number, 0 or more")
    labels = load_labels(args.labels)
    with open_existing(args) as col:
        report = tag_collection(
            col.store,
            labels,
            cutoff=args.cutoff,
            margin=args.margin,
            save=not args.dry_run,
            wait=args.wait,
            progress=progress_bar("tagging", unit="space"),
        )
    if args.json:
        print_json(report.to_json())
        return 0
    for t in report.items:
        print(f"{t.path}\t{', '.join(t.tags) or '-'}")
    tagged = sum(1 for t in report.items if t.tags)
    print(
        f"tagged {tagged} of {len(report.items)} items with {labels.name} "
        f"(spaces: {', '.join(report.spaces)})"
    )
    return 0


def cmd_dupes(args: argparse.Namespace) -> int:
    from xmodal.apply.dupes import find_duplicates, group_sheets

    if not (math.isfinite(args.threshold) and -1 <= args.threshold <= 1):
        raise UsageError("--threshold is a cosine, between -1 and 1")
    if not 0 <= args.max_distance <= 64:
        raise UsageError("--max-distance is a number of bits, 0 to 64")
    with open_existing(args) as col:
        report = find_duplicates(
            col.store,
            threshold=None if args.no_semantic else args.threshold,
            max_distance=None if args.no_pixels else args.max_distance,
            progress=progress_bar("hashing pixels", unit="image"),
        )
    for s in report.skipped:
        warn(f"skipped {s.path}: {s.reason}")
    sheets = group_sheets(report.groups, args.contact_sheet) if args.contact_sheet else []
    if args.json:
        print_json(report.to_json())
        return 0
    for n, g in enumerate(report.groups, start=1):
        print(f"group {n} ({', '.join(g.kinds)}, similarity {g.similarity:.3f}):")
        for p in g.paths:
            print(f"  {p}")
    print(
        f"{len(report.groups)} groups of duplicates"
        + (f"; sheets in {args.contact_sheet}" if sheets else "")
    )
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from xmodal.apply.describe import describe

    with open_existing(args) as col:
        d = describe(col.store, args.id)
    if args.json:
        print_json(d.to_json())
        return 0
    print(d.path)
    for p in d.parts:
        print(f"  {p.source}: {p.text}")
    if not d.parts:
        print(f"  {d.summary}")
    return 0


def cmd_flag(args: argparse.Namespace) -> int:
    from xmodal.apply.policy import flag_collection, load_policy

    check_wait(args.wait)
    rules = load_policy(args.policy)
    with open_existing(args) as col:
        report = flag_collection(
            col.store,
            rules,
            save=not args.dry_run,
            wait=args.wait,
            progress=progress_bar("classifying", unit="image"),
        )
    for s in report.skipped:
        warn(f"skipped {s.path}: {s.reason}")
    if args.json:
        print_json(report.to_json())
        return 0
    shown = report.to_json()["items"]
    for it in shown:
        print(f"{it['path']}\t{', '.join(it['flags'])}")
    print(f"flagged {len(shown)} of {len(report.flagged)} items")
    return 0
