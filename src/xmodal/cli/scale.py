"""The options that choose and size a collection's vector indexes."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from xmodal.progress import ProgressFactory, progress_bar

if TYPE_CHECKING:
    from xmodal.index.choice import IndexSettings


def add_index_options(parser: argparse.ArgumentParser) -> None:
    from xmodal.index.choice import EXACT_BELOW, HNSW_BELOW, KINDS

    parser.add_argument(
        "--index",
        choices=KINDS,
        help="the vector index each space keeps (kept with the collection; default: what it"
        f" has, else auto: exact below {EXACT_BELOW:,} vectors, hnsw below {HNSW_BELOW:,}"
        " or while its graph fits --max-memory, ivfpq above)",
    )
    parser.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="RAM the vector indexes may take, such as 512M or 1G: auto picks ivfpq and its"
        " code size so the vectors fit (kept with the collection; with no --index, sets auto)",
    )


def index_settings(args: argparse.Namespace) -> IndexSettings | None:
    """The ``IndexSettings`` the options ask for, or None to keep the collection's."""
    from xmodal.index.choice import IndexSettings, parse_memory

    if args.index is None and args.max_memory is None:
        return None
    memory = None if args.max_memory is None else parse_memory(args.max_memory)
    return IndexSettings(args.index or "auto", memory)


def index_progress() -> ProgressFactory:
    return progress_bar("building vector index", unit="vector")
