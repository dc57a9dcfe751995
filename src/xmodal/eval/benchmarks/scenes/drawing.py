"""Drawing synthetic scenes: a few coloured shapes on a 3x3 grid, from known parameters.

The spatial words of the queries are defined on the grid (see :mod:`.queries`); the drawing
keeps the picture agreeing with them: shapes in different columns have disjoint horizontal
extents, and shapes in one column always overlap horizontally.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from xmodal.errors import XmodalError
from xmodal.progress import ProgressFactory

Attrs = dict[str, str]

SHAPES = ("circle", "square", "triangle")
SIZES = ("small", "large")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 35),
    "green": (35, 155, 55),
    "blue": (35, 70, 215),
    "yellow": (235, 200, 20),
    "purple": (125, 45, 165),
    "orange": (240, 125, 20),
    "pink": (240, 120, 185),
    "brown": (120, 75, 35),
    "cyan": (30, 185, 205),
    "grey": (125, 125, 125),
}
# (column, row) of each position's cell on the 3x3 grid.
CELLS: dict[str, tuple[int, int]] = {
    "left": (0, 1),
    "right": (2, 1),
    "top": (1, 0),
    "bottom": (1, 2),
    "centre": (1, 1),
}
_SUPERSAMPLE = 4


@dataclass(frozen=True, slots=True)
class Level:
    """What makes a difficulty: palette, crowding, shape sizes (fractions of a cell), noise."""

    colours: tuple[str, ...]
    min_shapes: int
    max_shapes: int
    large: float
    small: float
    max_rotation: float
    textured: bool
    colour_jitter: int


LEVELS: dict[str, Level] = {
    "easy": Level(
        colours=("red", "green", "blue", "yellow", "purple", "orange"),
        min_shapes=1,
        max_shapes=3,
        large=0.8,
        small=0.45,
        max_rotation=0.0,
        textured=False,
        colour_jitter=0,
    ),
    "hard": Level(
        colours=tuple(COLOURS),
        min_shapes=2,
        max_shapes=5,
        large=0.62,
        small=0.34,
        max_rotation=20.0,
        textured=True,
        colour_jitter=14,
    ),
}


@dataclass(frozen=True, slots=True)
class Shape:
    """One drawn shape; ``bbox`` is (x0, y0, x1, y1) in output pixels."""

    shape: str
    colour: str
    size: str
    position: str
    bbox: tuple[float, float, float, float]

    def attrs(self) -> Attrs:
        return {"shape": self.shape, "colour": self.colour, "size": self.size}


@dataclass(frozen=True, slots=True)
class Scene:
    image: str  # path relative to the benchmark root
    text: str
    caption: str
    background: str
    shapes: tuple[Shape, ...]


def _jitter(rng: random.Random, amplitude: float) -> float:
    return rng.uniform(-amplitude, amplitude) if amplitude > 0 else 0.0


def _offset(rng: random.Random, lo: float, hi: float, free: bool, across: float) -> float:
    """A shift within [lo, hi] that keeps the shape in its cell; ``across`` bounds it on a
    shared axis."""
    if not free:
        lo, hi = max(lo, -across), min(hi, across)
    return rng.uniform(lo, hi) if hi > lo else (lo + hi) / 2


def _outline(kind: str, cx: float, cy: float, d: float, angle: float) -> list[tuple[float, float]]:
    if kind == "square":
        h = 0.4 * d  # a square of side 0.8 d looks about as big as a circle of diameter d
        corners = [(-h, -h), (h, -h), (h, h), (-h, h)]
    else:
        half_height = d * math.sqrt(3) / 4
        corners = [(0.0, -half_height), (d / 2, half_height), (-d / 2, half_height)]
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in corners]


def _background(
    size: int, level: Level, rng: random.Random, np_rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    base = np.array([rng.randint(228, 246)] * 3, dtype=np.float32)
    base += np.array([rng.randint(-5, 5) for _ in range(3)], dtype=np.float32)
    if not level.textured:
        return np.broadcast_to(base, (size, size, 3)).astype(np.float32), "plain"
    # A gentle gradient and soft low-contrast blotches: texture, but nothing shape-like.
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    angle = rng.uniform(0, 2 * math.pi)
    gradient = (xs * math.cos(angle) + ys * math.sin(angle)) * rng.uniform(-18, 18)
    coarse = np_rng.normal(0.0, 7.0, (max(size // 16, 2), max(size // 16, 2), 3))
    blotches = np.asarray(
        Image.fromarray(np.clip(coarse * 8 + 128, 0, 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.BICUBIC
        ),
        dtype=np.float32,
    )
    img = base + gradient[..., None] + (blotches - 128.0) / 8.0
    return np.clip(img, 175, 255), "textured"


def _place(
    rng: random.Random, level: Level, position: str, cell: float
) -> tuple[str, str, str, float, float, float, float, tuple[float, float, float, float]]:
    """Draw one shape's parameters for its cell: kind, colour, size word, diameter, angle,
    centre and extent around the centre (supersampled pixels)."""
    kind_of_shape = rng.choice(SHAPES)
    colour = rng.choice(level.colours)
    size_word = rng.choice(SIZES)
    d = (level.large if size_word == "large" else level.small) * cell
    col, row = CELLS[position]
    angle = _jitter(rng, level.max_rotation)
    if kind_of_shape == "circle":
        extent = (-d / 2, -d / 2, d / 2, d / 2)
    else:
        outline = _outline(kind_of_shape, 0.0, 0.0, d, angle)
        extent = (
            min(p[0] for p in outline),
            min(p[1] for p in outline),
            max(p[0] for p in outline),
            max(p[1] for p in outline),
        )
    # Inside its cell a shape may move freely along the axis it is alone on, but across
    # a column or row it shares only a little, so that shapes sharing one overlap on it.
    inner = cell / 2 - 0.03 * cell
    smallest = level.small * cell
    across = 0.18 * smallest
    dx = _offset(rng, -inner - extent[0], inner - extent[2], position in ("left", "right"), across)
    dy = _offset(rng, -inner - extent[1], inner - extent[3], position in ("top", "bottom"), across)
    cx, cy = (col + 0.5) * cell + dx, (row + 0.5) * cell + dy
    return kind_of_shape, colour, size_word, d, angle, cx, cy, extent


def _draw_shape(
    pen: ImageDraw.ImageDraw, rng: random.Random, level: Level, position: str, cell: float
) -> Shape:
    kind_of_shape, colour, size_word, d, angle, cx, cy, extent = _place(rng, level, position, cell)
    rgb = tuple(
        min(255, max(0, c + rng.randint(-level.colour_jitter, level.colour_jitter)))
        for c in COLOURS[colour]
    )
    if kind_of_shape == "circle":
        box = (cx + extent[0], cy + extent[1], cx + extent[2], cy + extent[3])
        pen.ellipse(box, fill=rgb)
    else:
        points = _outline(kind_of_shape, cx, cy, d, angle)
        pen.polygon(points, fill=rgb)
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        box = (min(xs), min(ys), max(xs), max(ys))
    bbox = (
        round(box[0] / _SUPERSAMPLE, 2),
        round(box[1] / _SUPERSAMPLE, 2),
        round(box[2] / _SUPERSAMPLE, 2),
        round(box[3] / _SUPERSAMPLE, 2),
    )
    return Shape(kind_of_shape, colour, size_word, position, bbox)


def draw_scene(
    size: int, level: Level, rng: random.Random, np_rng: np.random.Generator
) -> tuple[Image.Image, str, tuple[Shape, ...]]:
    """Draw one picture; returns it, its background kind and its shapes."""
    count = rng.randint(level.min_shapes, level.max_shapes)
    positions = rng.sample(list(CELLS), count)
    background, kind = _background(size, level, rng, np_rng)

    big = size * _SUPERSAMPLE
    canvas = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8)).resize(
        (big, big), Image.Resampling.NEAREST
    )
    pen = ImageDraw.Draw(canvas)
    shapes = [_draw_shape(pen, rng, level, position, big / 3) for position in positions]

    image = canvas.resize((size, size), Image.Resampling.BOX)
    if level.textured:
        noisy = np.asarray(image, dtype=np.float32) + np_rng.normal(0.0, 5.0, (size, size, 3))
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    _check_geometry(shapes)
    return image, kind, tuple(shapes)


def _check_geometry(shapes: Sequence[Shape]) -> None:
    # The spatial words are defined on the grid; this keeps the picture agreeing with them.
    for a, b in itertools.permutations(shapes, 2):
        (ca, ra), (cb, rb) = CELLS[a.position], CELLS[b.position]
        if (ca < cb) != (a.bbox[2] < b.bbox[0]) or (ra < rb) != (a.bbox[3] < b.bbox[1]):
            raise AssertionError(f"shapes {a} and {b} do not look as their cells say")


def generate(
    n_images: int,
    *,
    seed: int = 0,
    difficulty: str = "easy",
    size: int = 128,
    progress: ProgressFactory | None = None,
) -> Iterator[tuple[Image.Image, str, tuple[Shape, ...]]]:
    """Draw ``n_images`` pictures one by one; the same arguments give the same pictures."""
    chosen = get_level(difficulty)
    bar = progress(n_images) if progress else None
    try:
        for i in range(n_images):
            # One generator per picture: a picture does not depend on how many came before.
            rng = random.Random(f"scenes-{seed}-{difficulty}-{i}")
            np_rng = np.random.default_rng([seed, i, 0 if difficulty == "easy" else 1])
            yield draw_scene(size, chosen, rng, np_rng)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def get_level(difficulty: str) -> Level:
    """The level named ``difficulty``; an unknown name is refused."""
    try:
        return LEVELS[difficulty]
    except KeyError:
        raise XmodalError(
            f"difficulty must be one of {', '.join(LEVELS)}, got {difficulty!r}"
        ) from None
