"""Small builders shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def draw_image(color: tuple[int, int, int], shape: str = "circle", size: int = 96) -> Image.Image:
    im = Image.new("RGB", (size, size), color)
    d = ImageDraw.Draw(im)
    box = (size // 4, size // 4, 3 * size // 4, 3 * size // 4)
    if shape == "circle":
        d.ellipse(box, fill=(255, 255, 255))
    elif shape == "square":
        d.rectangle(box, fill=(0, 0, 0))
    else:
        d.polygon(
            [(size // 2, size // 8), (size // 8, 7 * size // 8), (7 * size // 8, 7 * size // 8)],
            fill=(255, 255, 0),
        )
    return im


def random_unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _shape_svg(color: str, shape: str, line: bool) -> str:
    fill = "none" if line else color
    stroke = 'stroke="#000" stroke-width="4"' if line else ""
    body = (
        f'<circle cx="36" cy="36" r="26" fill="{fill}" {stroke}/>'
        if shape == "circle"
        else f'<rect x="12" y="12" width="48" height="48" fill="{fill}" {stroke}/>'
    )
    return f'<svg viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">{body}</svg>'


def fake_openmoji(root: Path) -> Path:
    """An unpacked OpenMoji package in miniature: 12 coloured shapes (every fourth without
    tags), in colour and as black line art, with the metadata file."""

    for sub in ("data", "color/svg", "black/svg"):
        (root / sub).mkdir(parents=True)
    colors = ("#d01010", "#1030d0", "#10a020", "#e0d010", "#8020a0", "#101010")
    entries = []
    for n, (color, shape) in enumerate((c, s) for c in colors for s in ("circle", "rect")):
        hexcode = f"1F{0x600 + n:03X}"
        entries.append(
            {
                "emoji": "?",
                "hexcode": hexcode,
                "group": "symbols",
                "subgroups": shape,
                "annotation": f"{shape} number {n}",
                "tags": "" if n % 4 == 0 else f"{shape}, colour {color}",
                "openmoji_tags": "",
                "skintone": "",
                "skintone_base_hexcode": "",
            }
        )
        (root / "color/svg" / f"{hexcode}.svg").write_text(_shape_svg(color, shape, False))
        (root / "black/svg" / f"{hexcode}.svg").write_text(_shape_svg(color, shape, True))
    (root / "data" / "openmoji.json").write_text(json.dumps(entries))
    return root
