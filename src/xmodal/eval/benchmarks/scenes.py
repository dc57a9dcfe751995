"""Synthetic scenes: coloured shapes drawn from known parameters, so every label is exact.

Each picture holds a few circles, squares and triangles, each with a colour, a size (small
or large) and a position: one cell of a plus-shaped layout on a 3x3 grid (left, right, top,
bottom, centre), at most one shape a cell. Spatial words are defined on that grid:

- "A left of B" means A's column is left of B's column; "A above B" that its row is higher.
  Shapes in different columns have disjoint horizontal extents, and shapes in one column
  always overlap horizontally (jitter across the column is kept below the smallest
  half-width), so the words agree with what the picture shows. A shape on the left and one
  at the top are both "left of" and "below"/"above" each other: diagonal pairs hold both.

Queries and their judgements are computed from the parameters, never from the pixels:

- ``t2i-attribute``: "a red circle", "a large blue square", "a green shape", "a small
  triangle": relevant iff some shape has every named attribute;
- ``t2i-compositional``: "a small red circle left of a blue square": relevant iff two
  different shapes match the two descriptions and stand in that relation;
- ``t2i-negation``: "a circle that is not red" (some circle has another colour), "a red
  shape that is not a square", "a red circle and no blue shapes" (a red circle, and no
  blue shape at all);
- ``t2i-counting``: "two circles", "three shapes", "one red shape": the count is exact;
- ``i2t``: a picture finds its caption document, and every caption that reads the same.

Only queries with at least one relevant picture are written. ``scenes.json`` keeps every
picture's parameters and every query's structured form, so the judgements can be checked.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from xmodal.errors import XmodalError
from xmodal.eval.benchmarks import (
    BenchmarkLayout,
    Staging,
    Task,
    atomic_write_text,
    image_query,
    load_layout,
    register_benchmark,
    write_manifest,
    write_modal_task,
)

NAME = "scenes"
RECORDS_FILE = "scenes.json"

Difficulty = Literal["easy", "hard"]
Attrs = dict[str, str]
Spec = dict[str, Any]

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
POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "centre": "in the centre",
}
RELATIONS = ("left of", "right of", "above", "below")
_INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
_NUMBERS = ("zero", "one", "two", "three", "four", "five")
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


# --- semantics --------------------------------------------------------------------------


def matches(attrs: Mapping[str, str], shape: Shape) -> bool:
    """Whether ``shape`` has every attribute in ``attrs`` (an empty description fits all)."""
    mine = shape.attrs()
    return all(mine[k] == v for k, v in attrs.items())


def relation_holds(relation: str, a: Shape, b: Shape) -> bool:
    (ca, ra), (cb, rb) = CELLS[a.position], CELLS[b.position]
    if relation == "left of":
        return ca < cb
    if relation == "right of":
        return ca > cb
    if relation == "above":
        return ra < rb
    if relation == "below":
        return ra > rb
    raise ValueError(f"unknown relation {relation!r}")


def relevant(spec: Mapping[str, Any], shapes: Sequence[Shape]) -> bool:
    """Whether a picture with ``shapes`` satisfies a query's structured form."""
    kind = spec["type"]
    if kind == "attribute":
        return any(matches(spec["attrs"], s) for s in shapes)
    if kind == "count":
        return sum(matches(spec["attrs"], s) for s in shapes) == spec["count"]
    if kind == "relation":
        return any(
            matches(spec["a"], a)
            and matches(spec["b"], b)
            and relation_holds(spec["relation"], a, b)
            for a, b in itertools.permutations(shapes, 2)
        )
    if kind == "negated_attribute":
        return any(matches(spec["attrs"], s) and not matches(spec["not"], s) for s in shapes)
    if kind == "absent":
        return any(matches(spec["attrs"], s) for s in shapes) and not any(
            matches(spec["absent"], s) for s in shapes
        )
    raise ValueError(f"unknown query type {kind!r}")


def describe(attrs: Mapping[str, str]) -> str:
    """ "a small red circle", "a red shape", "a triangle"."""
    words = [attrs[k] for k in ("size", "colour") if k in attrs]
    words.append(attrs.get("shape", "shape"))
    article = "an" if words[0][0] in "aeiou" else "a"
    return " ".join([article, *words])


def _plural(attrs: Mapping[str, str], count: int) -> str:
    words = [attrs[k] for k in ("size", "colour") if k in attrs]
    noun = attrs.get("shape", "shape")
    words.append(noun if count == 1 else noun + "s")
    return " ".join(words)


def query_text(spec: Mapping[str, Any]) -> str:
    kind = spec["type"]
    if kind == "attribute":
        return describe(spec["attrs"])
    if kind == "count":
        return f"{_NUMBERS[spec['count']]} {_plural(spec['attrs'], spec['count'])}"
    if kind == "relation":
        return f"{describe(spec['a'])} {spec['relation']} {describe(spec['b'])}"
    if kind == "negated_attribute":
        negated = spec["not"]
        if "colour" in negated:
            what = negated["colour"]
        elif "shape" in negated:
            what = describe({"shape": negated["shape"]})
        else:
            what = negated["size"]
        return f"{describe(spec['attrs'])} that is not {what}"
    if kind == "absent":
        return f"{describe(spec['attrs'])} and no {_plural(spec['absent'], 2)}"
    raise ValueError(f"unknown query type {kind!r}")


def caption(shapes: Sequence[Shape]) -> str:
    """The picture's description, generated from the same parameters that drew it."""
    if len(shapes) == 1:
        s = shapes[0]
        return f"{describe(s.attrs())} {POSITION_PHRASES[s.position]}"
    if len(shapes) == 2:
        a, b = shapes
        relation = next(r for r in RELATIONS if relation_holds(r, a, b))
        return f"{describe(a.attrs())} {relation} {describe(b.attrs())}"
    parts = [f"{describe(s.attrs())} {POSITION_PHRASES[s.position]}" for s in shapes]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


# --- drawing ----------------------------------------------------------------------------


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
    cell = big / 3
    smallest = level.small * cell
    shapes: list[Shape] = []
    for position in positions:
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
        across = 0.18 * smallest
        dx = _offset(
            rng, -inner - extent[0], inner - extent[2], position in ("left", "right"), across
        )
        dy = _offset(
            rng, -inner - extent[1], inner - extent[3], position in ("top", "bottom"), across
        )
        cx, cy = (col + 0.5) * cell + dx, (row + 0.5) * cell + dy
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
        shapes.append(Shape(kind_of_shape, colour, size_word, position, bbox))

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


# --- queries ----------------------------------------------------------------------------


def _judge(spec: Spec, scenes: Sequence[Scene]) -> dict[str, int]:
    return {s.image: 1 for s in scenes if relevant(spec, s.shapes)}


def _cap(specs: list[Spec], limit: int, rng: random.Random) -> list[Spec]:
    if len(specs) <= limit:
        return specs
    keep = sorted(rng.sample(range(len(specs)), limit))
    return [specs[i] for i in keep]


def _with_relevant(specs: Iterable[Spec], scenes: Sequence[Scene]) -> list[Spec]:
    return [s for s in specs if any(relevant(s, sc.shapes) for sc in scenes)]


def _attribute_specs(level: Level) -> list[Spec]:
    specs: list[Spec] = []
    for colour in level.colours:
        specs.append({"type": "attribute", "attrs": {"colour": colour}})
        for shape in SHAPES:
            specs.append({"type": "attribute", "attrs": {"colour": colour, "shape": shape}})
            for size in SIZES:
                attrs = {"size": size, "colour": colour, "shape": shape}
                specs.append({"type": "attribute", "attrs": attrs})
    for size in SIZES:
        for shape in SHAPES:
            specs.append({"type": "attribute", "attrs": {"size": size, "shape": shape}})
    return specs


def _counting_specs(level: Level) -> list[Spec]:
    described: list[Attrs] = [{}]
    described += [{"shape": shape} for shape in SHAPES]
    described += [{"colour": colour} for colour in level.colours]
    return [
        {"type": "count", "attrs": attrs, "count": n}
        for attrs in described
        for n in range(1, level.max_shapes + 1)
    ]


def _negation_specs(level: Level) -> list[Spec]:
    specs: list[Spec] = []
    for shape in SHAPES:
        for colour in level.colours:
            specs.append(
                {"type": "negated_attribute", "attrs": {"shape": shape}, "not": {"colour": colour}}
            )
            specs.append(
                {"type": "negated_attribute", "attrs": {"colour": colour}, "not": {"shape": shape}}
            )
    for shape in SHAPES:
        for colour in level.colours:
            attrs = {"colour": colour, "shape": shape}
            for other in level.colours:
                if other != colour:
                    specs.append({"type": "absent", "attrs": attrs, "absent": {"colour": other}})
            for other in SHAPES:
                if other != shape:
                    specs.append({"type": "absent", "attrs": attrs, "absent": {"shape": other}})
    return specs


def _relation_specs(scenes: Sequence[Scene], limit: int, rng: random.Random) -> list[Spec]:
    # Drawn from pairs that occur, so that each has an answer; a relation and its mirror
    # image ("A left of B", "B right of A") ask the same thing and are kept once.
    pairs = [(a, b) for s in scenes for a, b in itertools.permutations(s.shapes, 2)]
    rng.shuffle(pairs)
    seen: set[str] = set()
    specs: list[Spec] = []
    for a, b in pairs:
        if len(specs) >= limit:
            break
        relation = rng.choice([r for r in RELATIONS if relation_holds(r, a, b)])
        da = {k: v for k, v in a.attrs().items() if k != "size" or rng.random() < 0.5}
        db = {k: v for k, v in b.attrs().items() if k != "size" or rng.random() < 0.5}
        key = json.dumps([da, relation, db], sort_keys=True)
        mirror = json.dumps([db, _INVERSE[relation], da], sort_keys=True)
        if key in seen or mirror in seen:
            continue
        seen.add(key)
        specs.append({"type": "relation", "a": da, "relation": relation, "b": db})
    return specs


# --- preparing --------------------------------------------------------------------------


def generate(
    n_images: int,
    *,
    seed: int = 0,
    difficulty: str = "easy",
    size: int = 128,
    progress: bool = False,
) -> Iterator[tuple[Image.Image, str, tuple[Shape, ...]]]:
    """Draw ``n_images`` pictures one by one; the same arguments give the same pictures."""
    level = _level(difficulty)
    for i in tqdm(range(n_images), desc="scenes", unit="image", disable=not progress):
        # One generator per picture: a picture does not depend on how many came before.
        rng = random.Random(f"scenes-{seed}-{difficulty}-{i}")
        np_rng = np.random.default_rng([seed, i, 0 if difficulty == "easy" else 1])
        yield draw_scene(size, level, rng, np_rng)


def _level(difficulty: str) -> Level:
    try:
        return LEVELS[difficulty]
    except KeyError:
        raise XmodalError(
            f"difficulty must be one of {', '.join(LEVELS)}, got {difficulty!r}"
        ) from None


def prepare(
    out: Path,
    *,
    n_images: int = 500,
    seed: int = 0,
    difficulty: str = "easy",
    size: int = 128,
    max_queries: int = 200,
    progress: bool = True,
) -> BenchmarkLayout:
    """Prepare the synthetic-scenes benchmark in ``out`` (replacing an earlier one).

    ``max_queries`` caps each task's text queries (a seeded sample keeps them varied);
    ``i2t`` has one query per picture.
    """
    level = _level(difficulty)
    if n_images < 1:
        raise XmodalError(f"n_images must be positive, got {n_images}")
    if not 32 <= size <= 2048:
        raise XmodalError(f"size must be between 32 and 2048 pixels, got {size}")
    if max_queries < 1:
        raise XmodalError(f"max_queries must be positive, got {max_queries}")
    params: dict[str, Any] = {
        "n_images": n_images,
        "seed": seed,
        "difficulty": difficulty,
        "size": size,
        "max_queries": max_queries,
    }
    names = random.Random(f"scenes-names-{seed}-{difficulty}")
    image_numbers = list(range(1, n_images + 1))
    names.shuffle(image_numbers)
    text_numbers = list(range(1, n_images + 1))
    names.shuffle(text_numbers)

    with Staging(out) as root:
        (root / "images").mkdir()
        (root / "texts").mkdir()
        scenes: list[Scene] = []
        drawn = generate(n_images, seed=seed, difficulty=difficulty, size=size, progress=progress)
        for (image, background, shapes), i_num, t_num in zip(
            drawn, image_numbers, text_numbers, strict=True
        ):
            scene = Scene(
                image=f"images/img-{i_num:06d}.png",
                text=f"texts/{t_num:06d}.txt",
                caption=caption(shapes),
                background=background,
                shapes=shapes,
            )
            image.save(root / scene.image, format="PNG", optimize=False)
            atomic_write_text(root / scene.text, scene.caption + "\n")
            scenes.append(scene)
        scenes.sort(key=lambda s: s.image)
        write_manifest(_write_tasks(root, scenes, level, params))
    return load_layout(out)


def _write_tasks(
    root: Path, scenes: Sequence[Scene], level: Level, params: dict[str, Any]
) -> BenchmarkLayout:
    seed, limit = params["seed"], params["max_queries"]
    sampler = random.Random(f"scenes-queries-{seed}-{params['difficulty']}")
    text_tasks: list[tuple[str, str, list[Spec]]] = [
        (
            "t2i-attribute",
            "shape, colour and size words → pictures with such a shape",
            _cap(_with_relevant(_attribute_specs(level), scenes), limit, sampler),
        ),
        (
            "t2i-compositional",
            "two described shapes in a spatial relation → pictures with such a pair",
            _relation_specs(scenes, limit, sampler),
        ),
        (
            "t2i-negation",
            "'a circle that is not red', 'a red circle and no blue shapes'",
            _cap(_with_relevant(_negation_specs(level), scenes), limit, sampler),
        ),
        (
            "t2i-counting",
            "'two circles', 'three shapes': pictures with exactly that many",
            _cap(_with_relevant(_counting_specs(level), scenes), limit, sampler),
        ),
    ]
    records_queries: dict[str, dict[str, Any]] = {}
    tasks: list[Task] = []
    for name, description, specs in text_tasks:
        queries: list[tuple[str, str]] = []
        qrels: dict[str, dict[str, int]] = {}
        records_queries[name] = {}
        for n, spec in enumerate(specs, start=1):
            qid = f"{name}-{n:05d}"
            text = query_text(spec)
            queries.append((qid, text))
            qrels[qid] = _judge(spec, scenes)
            records_queries[name][qid] = {"text": text, "spec": spec}
        tasks.append(_task(root, name, queries, qrels, description, "map", "text", "image"))

    same_caption: dict[str, list[str]] = {}
    for s in scenes:
        same_caption.setdefault(s.caption, []).append(s.text)
    i2t_queries = [(f"i2t-{n:05d}", image_query(s.image)) for n, s in enumerate(scenes, start=1)]
    i2t_qrels = {
        qid: {t: 1 for t in same_caption[s.caption]}
        for (qid, _), s in zip(i2t_queries, scenes, strict=True)
    }
    tasks.append(
        _task(
            root,
            "i2t",
            i2t_queries,
            i2t_qrels,
            "picture → its caption document (and captions that read the same)",
            "recall@10",
            "image",
            "text",
        )
    )

    records = {
        "params": params,
        "colours": {c: list(COLOURS[c]) for c in level.colours},
        "cells": {p: list(cr) for p, cr in CELLS.items()},
        "scenes": [asdict(s) for s in scenes],
        "queries": records_queries,
    }
    atomic_write_text(root / RECORDS_FILE, json.dumps(records, indent=1) + "\n")
    return BenchmarkLayout(
        name=NAME,
        root=root,
        documents=(root / "images", root / "texts"),
        tasks=tuple(tasks),
        description=f"synthetic shape scenes ({params['difficulty']}) with exact labels",
        params=params,
        counts={"images": len(scenes), "texts": len(scenes)},
    )


_task = write_modal_task


register_benchmark(NAME, prepare)
