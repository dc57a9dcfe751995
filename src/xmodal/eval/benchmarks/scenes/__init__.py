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

from xmodal.eval.benchmarks import register_benchmark
from xmodal.eval.benchmarks.scenes.build import NAME, RECORDS_FILE, ScenesOptions, prepare
from xmodal.eval.benchmarks.scenes.drawing import Shape
from xmodal.eval.benchmarks.scenes.queries import caption, query_text, relevant

register_benchmark(NAME, prepare)

__all__ = [
    "NAME",
    "RECORDS_FILE",
    "ScenesOptions",
    "Shape",
    "caption",
    "prepare",
    "query_text",
    "relevant",
]
