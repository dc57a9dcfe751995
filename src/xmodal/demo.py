"""The main job on its embedded default: OpenMoji's drawings indexed as pictures alone (no
caption, no tags, numbered file names) with the shipped ``emoji-small`` model, then searched
with words in English and Chinese, a mixed query and a picture, and the results drawn as a
contact sheet. Every text→image hit is found through the model's image tower."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from xmodal.atomic import atomic_file
from xmodal.collection import Collection
from xmodal.errors import DecodeError
from xmodal.ingest.pipeline import IndexOptions
from xmodal.media.image import decode_image
from xmodal.media.limits import DecodeLimits
from xmodal.progress import progress_bar
from xmodal.records import Modality, SearchHit

_THUMB = 96
_EXCLUDES = ("ATTRIBUTION.txt",)
#: pictures and queries meet in the space of the shipped model, nothing else
DEMO_MODELS = ("emoji-small",)
_LABEL_W = 220
_IMAGE_QUERY_HEX = "1F431"  # cat face: a picture that should find other cats


def _find_image_query(pictures: Mapping[Path, tuple[str, str]]) -> Path | None:
    for path, (hexcode, _) in pictures.items():
        if hexcode == _IMAGE_QUERY_HEX:
            return path
    return next(iter(pictures), None)


def _unseen_hexcodes() -> set[str]:
    """Emojis whose concept emoji-small never trained on (the validation and test splits)."""
    from xmodal.datasets.openmoji import fetch, load_emojis
    from xmodal.eval.benchmarks.openmoji import concepts, split_concepts

    parts = split_concepts(concepts(load_emojis(fetch(), include_skin_tones=True)))
    return {h for split in ("val", "test") for c in parts[split] for h in c.hexcodes}


def _text_tile(text: str) -> Image.Image:
    tile = Image.new("RGB", (_THUMB, _THUMB), (245, 245, 235))
    draw = ImageDraw.Draw(tile)
    font = ImageFont.load_default()
    lines = textwrap.wrap(" ".join(text.split()), width=14)[:7]
    draw.multiline_text((4, 4), "\n".join(lines), fill=(40, 40, 40), font=font, spacing=2)
    return tile


def _tile(hit: SearchHit) -> Image.Image:
    if hit.modality is Modality.IMAGE:
        try:
            with open(hit.path, "rb") as f:
                rgb = decode_image(f.read(), DecodeLimits(max_side=_THUMB)).image
            tile = Image.new("RGB", (_THUMB, _THUMB), (255, 255, 255))
            tile.paste(rgb, ((_THUMB - rgb.width) // 2, (_THUMB - rgb.height) // 2))
            return tile
        except (OSError, DecodeError):
            pass
    return _text_tile(hit.text or os.path.basename(hit.path))


def contact_sheet(rows: Sequence[tuple[str, Sequence[SearchHit]]], out: Path) -> Path:
    """One row per query: the query on the left, its results' thumbnails in rank order."""
    k = max((len(h) for _, h in rows), default=1)
    pad = 6
    sheet = Image.new(
        "RGB", (_LABEL_W + k * (_THUMB + pad) + pad, len(rows) * (_THUMB + 2 * pad)), "white"
    )
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, (label, hits) in enumerate(rows):
        y = r * (_THUMB + 2 * pad) + pad
        draw.multiline_text(
            (pad, y + 4), "\n".join(textwrap.wrap(label, 30)[:6]), fill="black", font=font
        )
        for c, hit in enumerate(hits):
            x = _LABEL_W + c * (_THUMB + pad)
            sheet.paste(_tile(hit), (x, y))
            draw.rectangle((x, y, x + _THUMB - 1, y + _THUMB - 1), outline=(200, 200, 200))
    with atomic_file(out) as f:
        sheet.save(f, "PNG")
    return out


def run_demo(
    db: str | None,
    sample: str | None,
    limit: int | None,
    queries: Sequence[str],
    k: int = 5,
    progress: bool = True,
) -> int:
    from xmodal.datasets.openmoji import build_pictures, cache_dir

    base = cache_dir()
    default_sample = base / "samples" / f"openmoji-pictures-{limit or 'all'}"
    sample_dir = Path(sample) if sample else default_sample
    db_dir = Path(db) if db else base / "demo-pictures-db"
    print(f"pictures: OpenMoji drawings (CC BY-SA 4.0, openmoji.org) in {sample_dir}")
    print("  numbered files, no captions, tags or sidecars: text can only find them by pixels")
    drawings = build_pictures(
        sample_dir,
        limit=limit,
        progress=progress_bar("OpenMoji", unit="emoji") if progress else None,
    )
    # what each picture is, kept outside the collection, only to print beside the results
    known = {d.path.resolve(): (d.emoji.hexcode, d.emoji.annotation) for d in drawings}
    unseen = _unseen_hexcodes()

    with Collection.open(db_dir) as col:
        bar = progress_bar("indexing") if progress else None
        report = col.index(
            [sample_dir],
            models=list(DEMO_MODELS),
            progress=bar,
            options=IndexOptions(excludes=_EXCLUDES),
        )
        print(f"collection {db_dir} (model {', '.join(DEMO_MODELS)}): {report.summary()}")
        rows: list[tuple[str, list[SearchHit]]] = [(q, col.search(q, k=k)) for q in queries]
        img = _find_image_query(known)
        if img is not None:
            rows.append((f"image: {img.name}", col.search(image=str(img), k=k)))
        for label, hits in rows:
            print(f"\n> {label}")
            for rank, h in enumerate(hits, start=1):
                hexcode, caption = known.get(Path(h.path).resolve(), ("", ""))
                mark = "  (concept never trained on)" if hexcode in unseen else ""
                name = os.path.basename(h.path)
                print(f"  {rank}. {h.score:.4f}  {name}  is: {caption}{mark}")
        sheet = contact_sheet(rows, db_dir / "demo-results.png")
    print(f"\ncontact sheet of these results: {sheet}")
    return 0
