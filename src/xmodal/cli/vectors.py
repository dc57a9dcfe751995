"""``xmodal vectors move``: search a collection's vectors in Milvus, or here again."""

from __future__ import annotations

import argparse

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_db,
    end_command,
    open_existing,
    print_json,
)

EXAMPLES = (
    "xmodal vectors move --to milvus://~/milvus/photos.db     # milvus-lite, embedded",
    "xmodal vectors move --to milvus://milvus.example.org:19530 --db ~/collections/home",
    "xmodal vectors move --to local                            # back to the local indexes",
)


def add_parser(sub: Subparsers) -> None:
    vec = add_command(sub, "vectors", "where a collection's vectors are searched", EXAMPLES)
    verbs = vec.add_subparsers(dest="verb", required=True, metavar="VERB", help="what to do")
    move = add_command(
        verbs,
        "move",
        "upload every vector space to Milvus and search there, or search here again",
        EXAMPLES,
    )
    move.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="milvus://PATH.db (milvus-lite file), milvus://HOST:PORT, milvus+https://HOST:PORT"
        " (add ?index=HNSW for an approximate Milvus index; FLAT, exact, by default), or local",
    )
    add_db(move)
    move.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for an index run on the same collection to finish",
    )
    move.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    end_command(move, cmd_move)


def cmd_move(args: argparse.Namespace) -> int:
    from xmodal.cli.common import check_wait
    from xmodal.index.milvus_sync import move_vectors
    from xmodal.progress import progress_bar
    from xmodal.store.lock import WriteLock

    check_wait(args.wait)
    col = open_existing(args)
    try:
        bar = None if (args.quiet or args.json) else progress_bar("uploading", unit="vector")
        with WriteLock(col.root, wait=args.wait):
            moved = move_vectors(col.store, args.to, bar)
    finally:
        col.close()
    if args.json:
        print_json(moved)
    else:
        for name, count in moved["spaces"].items():
            print(f"{name}: {count if count is not None else 'searched locally'}")
        print(f"vectors searched in {moved['vectors']}")
    return 0
