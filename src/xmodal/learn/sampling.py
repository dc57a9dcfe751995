"""Which pairs make each training batch: a plain shuffle, or batches that even out the
categories (and a report of how even they came out)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from xmodal.errors import UsageError


def shuffled_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Every index once per epoch, in random order; a last batch of one is dropped, since a
    contrastive batch needs at least one negative."""
    order = rng.permutation(n)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    return [b for b in batches if len(b) >= 2]


class BalancedBatchSampler:
    """Batches that draw categories more evenly than the data holds them.

    Each pair is drawn with probability proportional to ``count(category) ** -power``
    (``power=1``: every category equally often; ``0``: as in the data); an epoch has as
    many batches as a plain pass would. Within a batch no pair repeats (a pair twice in one
    batch would be its own negative), across batches small categories recur.
    """

    def __init__(self, groups: Sequence[str], batch_size: int, power: float = 1.0) -> None:
        if batch_size < 2:
            raise UsageError(f"batch size must be at least 2, got {batch_size}")
        if not 0.0 <= power <= 1.0:
            raise UsageError(f"balance power must be within [0, 1], got {power}")
        self.groups = list(groups)
        self.batch_size = batch_size
        self.power = power
        names, inverse, counts = np.unique(self.groups, return_inverse=True, return_counts=True)
        self.names = [str(g) for g in names]
        self._inverse = inverse
        w = counts[inverse].astype(np.float64) ** -power
        self.weights = w / w.sum()

    def __len__(self) -> int:
        return math.ceil(len(self.groups) / self.batch_size)

    def epoch(self, rng: np.random.Generator) -> list[np.ndarray]:
        n = len(self.groups)
        size = min(self.batch_size, n)
        return [rng.choice(n, size=size, replace=False, p=self.weights) for _ in range(len(self))]

    def expected_shares(self) -> dict[str, float]:
        shares = np.bincount(self._inverse, weights=self.weights, minlength=len(self.names))
        return {g: float(s) for g, s in zip(self.names, shares, strict=True)}


def _effective_count(shares: np.ndarray) -> float:
    """exp(entropy): how many equally frequent categories would be as diverse."""
    p = shares[shares > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def balance_report(
    groups: Sequence[str], batches: Sequence[np.ndarray] | None = None
) -> dict[str, Any]:
    """How categories are represented in the data and in the drawn ``batches`` (one epoch):
    each category's share, the effective number of categories, the ratio of the largest to
    the smallest share, and how many distinct pairs an epoch sees."""
    names, inverse, counts = np.unique(list(groups), return_inverse=True, return_counts=True)
    data_share = counts / counts.sum()
    report: dict[str, Any] = {
        "pairs": len(groups),
        "categories": len(names),
        "data": {
            "effective_categories": _effective_count(data_share),
            "max_min_ratio": float(data_share.max() / data_share.min()),
        },
    }
    per: dict[str, dict[str, float]] = {
        str(g): {"count": int(c), "data_share": float(s)}
        for g, c, s in zip(names, counts, data_share, strict=True)
    }
    if batches:
        drawn = np.concatenate([np.asarray(b) for b in batches])
        drawn_counts = np.bincount(inverse[drawn], minlength=len(names))
        drawn_share = drawn_counts / drawn_counts.sum()
        for g, s in zip(names, drawn_share, strict=True):
            per[str(g)]["sampled_share"] = float(s)
        seen = drawn_share[drawn_share > 0]
        report["sampled"] = {
            "effective_categories": _effective_count(drawn_share),
            "max_min_ratio": float(seen.max() / seen.min()) if len(seen) else 0.0,
            "distinct_pairs_per_epoch": len(np.unique(drawn)),
            "draws_per_epoch": len(drawn),
        }
    report["per_category"] = per
    return report


def format_balance_report(report: dict[str, Any]) -> str:
    """A few lines for a terminal."""
    lines = [f"{report['pairs']} pairs in {report['categories']} categories"]
    d = report["data"]
    lines.append(
        f"  data:    effective categories {d['effective_categories']:.1f}, "
        f"largest/smallest share {d['max_min_ratio']:.1f}"
    )
    s = report.get("sampled")
    if s:
        lines.append(
            f"  sampled: effective categories {s['effective_categories']:.1f}, "
            f"largest/smallest share {s['max_min_ratio']:.1f}, "
            f"{s['distinct_pairs_per_epoch']}/{report['pairs']} distinct pairs per epoch"
        )
    return "\n".join(lines)
