"""Combining per-space rankings into one: reciprocal-rank fusion or a weighted score sum."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

FusionMethod = Literal["rrf", "weighted"]
RRF_K = 60


@dataclass(slots=True)
class Fused:
    key: str
    score: float
    per_space: dict[str, float] = field(default_factory=dict)


def fuse(
    rankings: Mapping[str, Sequence[tuple[str, float]]],
    method: FusionMethod = "rrf",
    weights: Mapping[str, float] | None = None,
    rrf_k: int = RRF_K,
) -> list[Fused]:
    """Fuse ``{space: [(key, score), ...best first]}`` into one list, best first.

    With a single ranking the scores pass through unchanged, so a one-space search reports
    cosine similarities. RRF ignores score scales (spaces whose cosines are not comparable);
    the weighted sum keeps them and treats a key missing from a space as scoring 0 there.
    """
    weights = weights or {}
    active = {s: r for s, r in rankings.items() if r and weights.get(s, 1.0) != 0}
    out: dict[str, Fused] = {}
    if len(active) == 1:
        (space, ranking), = active.items()
        w = weights.get(space, 1.0)
        for key, score in ranking:
            out.setdefault(key, Fused(key, w * score, {space: score}))
    else:
        for space, ranking in active.items():
            w = weights.get(space, 1.0)
            for rank, (key, score) in enumerate(ranking, start=1):
                f = out.setdefault(key, Fused(key, 0.0))
                f.per_space[space] = score
                f.score += w / (rrf_k + rank) if method == "rrf" else w * score
    return sorted(out.values(), key=lambda f: (-f.score, f.key))


SCORE_SCALES = """\
Scores, one scale per fusion mode:
  one space        the space's own score: the cosine similarity (-1..1) in a vector space,
                   the BM25 score (0 and up, unbounded) in a keyword space
  rrf (default)    reciprocal-rank fusion normalised to 0..1: 1.0 means ranked first in
                   every space that took part, about 0.5 first in half of them
  weighted         the weighted mean of the spaces' scores (an item missing from a space
                   scores 0 there): 1.0 means cosine 1 in every space\
"""


def scale(
    rankings: Mapping[str, Sequence[tuple[str, float]]],
    method: FusionMethod = "rrf",
    weights: Mapping[str, float] | None = None,
    rrf_k: int = RRF_K,
) -> float:
    """The divisor that puts :func:`fuse`'s scores of ``rankings`` on the scale
    ``SCORE_SCALES`` documents for ``method`` (a positive number, so order is unchanged)."""
    weights = weights or {}
    active = [weights.get(s, 1.0) for s, r in rankings.items() if r and weights.get(s, 1.0)]
    if len(active) == 1:
        return abs(active[0])
    positive = sum(w for w in active if w > 0)
    if positive <= 0:
        return 1.0
    return positive / (rrf_k + 1) if method == "rrf" else positive


def fuse_scaled(
    rankings: Mapping[str, Sequence[tuple[str, float]]],
    method: FusionMethod = "rrf",
    weights: Mapping[str, float] | None = None,
) -> list[Fused]:
    """:func:`fuse`, with scores on the documented scale of ``method``."""
    div = scale(rankings, method, weights)
    fused = fuse(rankings, method, weights)
    for f in fused:
        f.score /= div
    return fused
