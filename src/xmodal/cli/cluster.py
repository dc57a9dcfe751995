"""The options of ``xmodal index`` that reach beyond one machine: Ray workers, Milvus."""

from __future__ import annotations

import argparse


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="decode and embed on a Ray cluster: its address (ray://HOST:10001, or auto for"
        " the one this machine belongs to), or local to start one here; this process writes"
        " the collection. The files must be at the same paths on every node",
    )
    parser.add_argument(
        "--vectors",
        metavar="URL",
        help="where the vectors are searched (kept with the collection): milvus://PATH.db"
        " (milvus-lite, embedded), milvus://HOST:PORT (a Milvus server or cluster), or local;"
        " the collection keeps items, text, metadata and a copy of every vector",
    )


def check_cluster_options(args: argparse.Namespace) -> None:
    """Refuse a malformed ``--vectors`` before anything is written."""
    from xmodal.index.milvus import parse_target
    from xmodal.index.milvus_sync import LOCAL

    if args.vectors is not None and args.vectors != LOCAL:
        parse_target(args.vectors)
