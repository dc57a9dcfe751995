"""``xmodal index``: add or re-index files and folders."""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from xmodal.cli.cluster import add_cluster_options, check_cluster_options
from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_db,
    check_wait,
    db_path,
    fail,
    print_json,
    warn,
)
from xmodal.cli.scale import add_index_options, index_progress, index_settings

if TYPE_CHECKING:
    from xmodal.collection import Collection
    from xmodal.ingest.commits import IndexInterrupted
    from xmodal.records import IndexReport

EXAMPLES = (
    "xmodal index ~/Pictures                      # into the default collection",
    "xmodal index ~/Photos --exclude '*.tmp' --model clip:ViT-B-32@laion2b_s34b_b79k",
    "xmodal index /shared/photos --ray ray://head:10001 --vectors milvus://milvus:19530",
)


#: the shell's status for a command stopped by SIGINT (128 + 2)
EXIT_INTERRUPTED = 130


def add_parser(sub: Subparsers) -> None:
    ix = add_command(sub, "index", "index or re-index files and folders", EXAMPLES)
    ix.add_argument("paths", nargs="+", metavar="PATH", help="files and folders to index")
    add_db(ix, "collection folder, created if missing")
    ix.add_argument(
        "--model",
        action="append",
        help="encoder to add (repeatable; see `xmodal models list`; default: the collection's"
        " own, or the best set available offline for a new one)",
    )
    ix.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="skip files and folders whose path or name matches (repeatable)",
    )
    ix.add_argument("--hidden", action="store_true", help="include hidden files and folders")
    ix.add_argument(
        "--follow-links",
        action="store_true",
        help="index what symbolic links that lead outside the PATHs point to (skipped by default)",
    )
    ix.add_argument("--workers", type=int, help="decoding threads (default: CPU count)")
    ix.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another index run on the same collection",
    )
    add_index_options(ix)
    add_cluster_options(ix)
    ix.add_argument("--json", action="store_true", help="print one JSON report")
    ix.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ix.set_defaults(func=cmd_index)


def _missing(paths: Sequence[str]) -> str | None:
    gone = [p for p in paths if not os.path.lexists(os.path.expanduser(p))]
    if not gone:
        return None
    more = f" (and {len(gone) - 1} more)" if len(gone) > 1 else ""
    return f"no such file or folder: {gone[0]}{more}"


def unmatched_excludes(roots: Sequence[str], patterns: Sequence[str], hidden: bool) -> list[str]:
    """The exclude patterns that match no file or folder under ``roots`` (as the walk matches
    them: the whole path or the name); the walk stops once every pattern has matched."""
    left = list(dict.fromkeys(patterns))

    def matches(path: str, name: str, pattern: str) -> bool:
        return fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(name, pattern)

    for root in roots:
        top = os.path.abspath(os.path.expanduser(root))
        left = [p for p in left if not matches(top, os.path.basename(top), p)]
        for folder, dirs, files in os.walk(top):
            if not hidden:
                dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in dirs + files:
                path = os.path.join(folder, name)
                left = [p for p in left if not matches(path, name, p)]
            if not left:
                return []
            # the walk does not go into an excluded folder, so neither does this check
            dirs[:] = [
                d for d in dirs if not any(matches(os.path.join(folder, d), d, p) for p in patterns)
            ]
    return left


def _new_folder(path: str) -> str | None:
    """The outermost folder that opening a collection at ``path`` would create, if any."""
    path = os.path.abspath(os.path.expanduser(path))
    created = None
    while not os.path.lexists(path):
        created = path
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return created


def _index_new_or_existing(args: argparse.Namespace, db: str) -> tuple[Collection, IndexReport]:
    from xmodal.collection import Collection
    from xmodal.ingest.commits import IndexInterrupted
    from xmodal.ingest.pipeline import IndexOptions
    from xmodal.progress import progress_bar

    options = IndexOptions(
        excludes=tuple(args.exclude or ()),
        include_hidden=args.hidden,
        follow_links=args.follow_links,
        workers=args.workers or 0,
    )
    created = _new_folder(db)
    col: Collection | None = None
    try:
        col = Collection.open(db)
        if not (args.quiet or args.json):
            col.indexes.progress = index_progress()
        report = col.index(
            args.paths,
            models=args.model,
            options=options,
            progress=None if (args.quiet or args.json) else progress_bar("indexing"),
            wait=args.wait,
            index_settings=index_settings(args),
            ray=args.ray,
            vectors=args.vectors,
        )
    except IndexInterrupted:
        if col is not None:
            col.close()  # what was committed stays: running the command again carries on
        raise
    except Exception:
        # a first run that fails leaves nothing behind
        if col is not None:
            col.close()
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    col.close()
    return col, report


def cmd_index(args: argparse.Namespace) -> int:
    from xmodal.encoders.registry import info
    from xmodal.ingest.commits import IndexInterrupted

    check_wait(args.wait)
    if args.workers is not None and args.workers < 1:
        return fail("--workers must be 1 or more")
    missing = _missing(args.paths)
    if missing:
        return fail(missing)
    index_settings(args)  # a bad --max-memory is refused before anything is written
    check_cluster_options(args)
    for name in args.model or ():
        info(name)  # an unknown encoder is refused before the collection folder is created
    db = db_path(args)
    for pattern in unmatched_excludes(args.paths, args.exclude or (), args.hidden):
        warn(f"--exclude {pattern!r} matches nothing under the paths given")
    if args.db is None and not args.json:
        print(f"collection: {db}", file=sys.stderr)
    try:
        col, report = _index_new_or_existing(args, db)
    except IndexInterrupted as stop:
        return _interrupted(stop, args.json)
    if args.json:
        print_json(report.to_json())
        return 0
    for note in col.notes:
        print(note, file=sys.stderr)
    if not args.quiet:
        for s in report.skipped[:20]:
            print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
        if len(report.skipped) > 20:
            print(f"... and {len(report.skipped) - 20} more skipped (see --json)", file=sys.stderr)
    print(report.summary())
    return 0


def _interrupted(stop: IndexInterrupted, as_json: bool) -> int:
    """Ctrl-C: the committed part stays; say how much, and how to finish."""
    if as_json:
        print_json({**stop.report.to_json(), "interrupted": True, "kept": stop.kept})
    print(
        f"interrupted: kept {stop.kept} of {stop.total} files; run the same command to finish",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED
