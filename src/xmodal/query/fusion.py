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
