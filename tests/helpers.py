"""Small builders shared by the tests."""

from __future__ import annotations

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
