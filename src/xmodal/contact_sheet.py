"""Search results drawn as one PNG: thumbnails in rows, text hits as tiles of their words.

Two layouts share one drawing: a grid of one query's hits with rank, score and file name under
each (``hits_sheet``), and one row per query with the query written on the left
(``queries_sheet``).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from xmodal.atomic import atomic_file
from xmodal.errors import DecodeError
from xmodal.fonts import Font, default_font, font_for
from xmodal.media.image import decode_image
from xmodal.media.limits import DecodeLimits
from xmodal.records import Modality, SearchHit

#: side of a thumbnail, in pixels
THUMB = 128
#: space around and between thumbnails
PAD = 6
#: height of the two caption lines under a thumbnail (rank and score, file name)
CAPTION_H = 28
#: width of the column that holds each row's query in ``queries_sheet``
LABEL_W = 220
_LINE_H = 13


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One row of a sheet: hits in rank order, the rank of the first, an optional label."""

    hits: Sequence[SearchHit]
    first_rank: int = 1
    label: str = ""


def _text_tile(text: str, side: int) -> Image.Image:
    tile = Image.new("RGB", (side, side), (245, 245, 235))
    draw = ImageDraw.Draw(tile)
    font = font_for(text)
    lines = textwrap.wrap(" ".join(text.split()), width=max(side // 7, 4))[: max(side // 14, 1)]
    draw.multiline_text((4, 4), "\n".join(lines), fill=(40, 40, 40), font=font, spacing=2)
    return tile


def tile(hit: SearchHit, side: int = THUMB) -> Image.Image:
    """A ``side`` x ``side`` picture of a hit: its image scaled down and centred, or (for a
    text hit, or an image that no longer decodes) its words."""
    source = hit.thumbnail if hit.thumbnail is not None else hit.path
    if hit.modality is Modality.IMAGE or hit.thumbnail is not None:
        try:
            with open(source, "rb") as f:
                rgb = decode_image(f.read(), DecodeLimits(max_side=side)).image
            square = Image.new("RGB", (side, side), (255, 255, 255))
            square.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
            return square
        except (OSError, DecodeError):
            pass
    return _text_tile(hit.text or os.path.basename(hit.path), side)


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int, font: Font) -> str:
    """``text`` cut (with an ellipsis) to at most ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _caption(draw: ImageDraw.ImageDraw, xy: tuple[int, int], rank: int, hit: SearchHit) -> None:
    font = default_font()
    x, y = xy
    draw.text((x, y), _fit(draw, f"#{rank}  {hit.score:.4f}", THUMB, font), "black", font=font)
    base = os.path.basename(hit.path)
    named = font_for(base)
    draw.text((x, y + _LINE_H), _fit(draw, base, THUMB, named), fill=(70, 70, 70), font=named)


def sheet_size(rows: int, columns: int, side: int, label_w: int, captions: bool) -> tuple[int, int]:
    """Width and height in pixels of a sheet of ``rows`` rows of up to ``columns`` tiles."""
    left = label_w or PAD
    row_h = side + 2 * PAD + (CAPTION_H if captions else 0)
    return left + max(columns, 1) * (side + PAD), rows * row_h


def draw_sheet(
    rows: Sequence[SheetRow],
    out: str | os.PathLike[str],
    *,
    side: int = THUMB,
    label_w: int = 0,
    captions: bool = True,
) -> Path:
    """Draw ``rows`` into the PNG file ``out`` (written whole or not at all)."""
    columns = max((len(r.hits) for r in rows), default=1)
    sheet = Image.new("RGB", sheet_size(len(rows), columns, side, label_w, captions), "white")
    draw = ImageDraw.Draw(sheet)
    row_h = side + 2 * PAD + (CAPTION_H if captions else 0)
    for r, row in enumerate(rows):
        y = r * row_h + PAD
        if label_w:
            label = "\n".join(textwrap.wrap(row.label, 30)[:6])
            draw.multiline_text((PAD, y + 4), label, fill="black", font=font_for(label))
        for c, hit in enumerate(row.hits):
            x = (label_w or PAD) + c * (side + PAD)
            sheet.paste(tile(hit, side), (x, y))
            draw.rectangle((x, y, x + side - 1, y + side - 1), outline=(200, 200, 200))
            if captions:
                _caption(draw, (x, y + side + 2), row.first_rank + c, hit)
    path = Path(out)
    with atomic_file(path) as f:
        sheet.save(f, "PNG")
    return path


def hits_sheet(hits: Sequence[SearchHit], out: str | os.PathLike[str], columns: int = 5) -> Path:
    """One query's hits in a grid, ``columns`` to a row, each with its rank, score and name."""
    rows = [SheetRow(hits[i : i + columns], first_rank=i + 1) for i in range(0, len(hits), columns)]
    return draw_sheet(rows or [SheetRow(())], out)


def queries_sheet(
    rows: Sequence[tuple[str, Sequence[SearchHit]]], out: str | os.PathLike[str]
) -> Path:
    """One row per query: the query on the left, its hits' thumbnails in rank order."""
    sheet_rows = [SheetRow(hits, label=label) for label, hits in rows]
    return draw_sheet(sheet_rows, out, side=96, label_w=LABEL_W, captions=False)
