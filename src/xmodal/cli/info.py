"""``xmodal info``: what a collection holds, and with ``--check`` whether it is consistent."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_db,
    end_command,
    open_existing,
    print_json,
)
from xmodal.cli.display import pad, text_width

if TYPE_CHECKING:
    from xmodal.info import CollectionInfo


def add_parser(sub: Subparsers) -> None:
    inf = add_command(
        sub,
        "info",
        "what a collection holds: items, spaces and their encoders, size on disk",
        ("xmodal info", "xmodal info --db ~/collections/home --check"),
    )
    add_db(inf)
    inf.add_argument(
        "--check",
        action="store_true",
        help="also verify that items, segments and vectors agree (exit 1 if not)",
    )
    end_command(inf, cmd_info)


def human_size(n: int) -> str:
    size, unit = float(n), "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"


def summary_lines(info: CollectionInfo) -> list[str]:
    """The readable form of ``info``: one fact a line, spaces in an aligned table."""
    counts = ", ".join(f"{n} {m}" for m, n in info.by_modality.items())
    lines = [
        f"collection   {os.path.abspath(info.path)}",
        f"items        {info.items}" + (f" ({counts})" if counts else ""),
    ]
    if info.spaces:
        width = max(text_width(name) for name in info.spaces)
        for n, (name, space) in enumerate(info.spaces.items()):
            what = f"dim {space.dim}" if space.dim else "keyword index"
            head = "spaces       " if n == 0 else " " * 13
            lines.append(f"{head}{pad(name, width)}  {what:<13}  {space.encoder}")
    else:
        lines.append("spaces       none yet")
    ocr = "on" if info.ocr else "off"
    lines.append(f"OCR          {ocr} (text read out of images and searched with words)")
    others = [e for e in info.extractors if e != "ocr"]
    if others:
        lines.append(f"extractors   {', '.join(others)}")
    lines.append(f"size on disk {human_size(info.size_bytes)}")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    from xmodal.info import collection_info

    with open_existing(args) as col:
        info = collection_info(col, check=args.check)
    status = 1 if info.problems else 0
    if args.json:
        print_json(info.to_json())
        return status
    print("\n".join(summary_lines(info)))
    if info.problems is not None:
        print("consistent" if not info.problems else "problems: " + "; ".join(info.problems))
    return status
