"""Uncertainty and significance for per-query retrieval scores.

Both procedures treat queries as the sampling unit: a collection's topics are a sample from
the queries users could ask, so intervals and tests resample or permute whole queries.

``bootstrap_ci``
    Percentile bootstrap interval for the mean (or median) of one system's per-query
    scores.

``paired_test``
    Compares two systems on the same queries: the mean of the per-query differences
    ``b - a`` with a bootstrap interval, a two-sided paired randomisation (sign-flip)
    p-value, and the Wilcoxon signed-rank p-value as a second opinion.

Infinite values
    ``median_rank`` is ``inf`` for a query that retrieves nothing relevant.
    ``bootstrap_ci`` keeps infinities: with ``statistic="median"`` they order correctly
    and give the same summary as ``metrics.summarize``; with the mean, arithmetic makes
    the estimate ``inf`` and the interval bounds are infinite wherever the resampled
    means are. ``paired_test`` cannot work with infinite differences (``inf - inf`` is
    undefined and one infinite pair swamps every mean), so it *caps* them: ``+inf`` and
    ``-inf`` become ``±cap``, by default one more than the largest finite magnitude in
    either sample (for ranks, "one past the deepest rank either system found"). Capping
    rather than excluding keeps the failed queries in the sample; dropping them would
    drop exactly the queries where a system is worst. Both-infinite pairs become ties.
    The capped difference's size is arbitrary, so for ranks the sign-flip and Wilcoxon
    p-values (which mostly depend on order and sign) mean more than ``mean_diff``.

NaN is rejected everywhere with ``ValueError``: it has no order and no value to cap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from xmodal.jsonsafe import finite_or_none

FloatArray = npt.NDArray[np.float64]
Values = Sequence[float] | npt.NDArray[np.floating[Any]]
"""Per-query scores: any sequence of floats, or a 1-D numpy array."""

# Bound on the elements of one resampling block, so that memory stays near 32 MiB however
# many queries or resamples are asked for; the results do not depend on the block size
# beyond which random numbers feed which resample.
_BLOCK_ELEMENTS = 1 << 22

# Enumerating every sign pattern gives the exact p-value and costs no more than sampling
# while there are no more patterns than resamples asked for; the bound keeps the pattern
# matrix small (2**16 rows of 16) even when a caller asks for millions of resamples.
_MAX_EXACT_FLIPS = 16


@dataclass(frozen=True, slots=True)
class PairedResult:
    """Outcome of ``paired_test(a, b)``; differences are always ``b - a``.

    ``p_value`` is the two-sided sign-flip permutation p-value; ``exact`` says whether it
    came from enumerating every sign pattern rather than from ``n_resamples`` random ones.
    ``wilcoxon_p`` is ``None`` when scipy is unavailable or cannot compute it. Means are
    of the values after capping infinities (``n_capped`` counts how many were).
    """

    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    wilcoxon_p: float | None
    n_differ: int
    exact: bool
    n_capped: int


def _as_array(values: Values, what: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of numbers")
    if arr.size == 0:
        raise ValueError(f"{what} is empty; there is nothing to estimate")
    if np.isnan(arr).any():
        raise ValueError(f"{what} contains NaN, which has neither an order nor a value")
    return arr


def _check_settings(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")


def _blocks(total: int, width: int) -> Iterator[int]:
    """Sizes of consecutive row blocks covering ``total`` rows of ``width`` columns."""
    rows = max(1, _BLOCK_ELEMENTS // max(1, width))
    done = 0
    while done < total:
        step = min(rows, total - done)
        yield step
        done += step


def bootstrap_ci(
    values: Values,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    statistic: Literal["mean", "median"] = "mean",
) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the statistic of ``values`` and its percentile interval.

    Each resample draws ``len(values)`` queries with replacement. The bounds are the outward
    order statistics of the resampled statistics (numpy's ``lower`` and ``higher``
    quantiles), so the interval is never narrower than the interpolated one and never
    interpolates into an infinite value. Deterministic for a given ``seed``.
    """
    _check_settings(n_resamples, confidence)
    arr = _as_array(values, "values")
    if np.isposinf(arr).any() and np.isneginf(arr).any():
        # inf - inf would make resampled means NaN
        raise ValueError("values hold both +inf and -inf; their mean is undefined")
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    reduce = np.median if statistic == "median" else np.mean
    estimate = float(reduce(arr))
    n = arr.size
    rng = np.random.default_rng(seed)
    stats = np.empty(n_resamples, dtype=np.float64)
    start = 0
    for rows in _blocks(n_resamples, n):
        idx = rng.integers(0, n, size=(rows, n))
        stats[start : start + rows] = reduce(arr[idx], axis=1)
        start += rows
    alpha = (1.0 - confidence) / 2.0
    low = float(np.quantile(stats, alpha, method="lower"))
    high = float(np.quantile(stats, 1.0 - alpha, method="higher"))
    return estimate, low, high


def _cap_infinities(a: FloatArray, b: FloatArray, cap: float | None) -> tuple[int, float]:
    """Replace ±inf in ``a`` and ``b`` in place by ±cap; returns (how many, cap used)."""
    inf_a, inf_b = np.isinf(a), np.isinf(b)
    count = int(inf_a.sum() + inf_b.sum())
    if count == 0:
        return 0, math.inf if cap is None else cap
    if cap is None:
        finite = np.concatenate([a[~inf_a], b[~inf_b]])
        cap = float(np.abs(finite).max()) + 1.0 if finite.size else 1.0
    elif not math.isfinite(cap) or cap <= 0:
        raise ValueError(f"cap must be a positive finite number, got {cap}")
    a[inf_a] = np.copysign(cap, a[inf_a])
    b[inf_b] = np.copysign(cap, b[inf_b])
    return count, cap


def sign_flip_p(diffs: Values, *, n_resamples: int = 10000, seed: int = 0) -> tuple[float, bool]:
    """Two-sided paired randomisation p-value for ``mean(diffs) == 0``; ``(p, exact)``.

    Under the null hypothesis each query's difference is as likely to have either sign, so
    the observed ``|sum|`` is compared with the sums under random sign flips. Zero
    differences are unaffected by flipping and drop out. With few enough non-zero
    differences every pattern is enumerated (``exact`` is True); otherwise the estimate
    counts the observed pattern as one of the samples, ``(1 + hits) / (1 + n_resamples)``,
    which keeps the test valid (never below the nominal level) and ``p`` above 0. The
    result is symmetric: ``diffs`` and their negation give the same ``p``.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    d = np.asarray(diffs, dtype=np.float64)
    if not np.isfinite(d).all():
        raise ValueError("differences must be finite; cap infinite scores first")
    d = d[d != 0.0]
    m = d.size
    if m == 0:
        return 1.0, True
    observed = abs(float(d.sum()))
    # Sums over the same numbers in another order differ in the last bits; without slack
    # the observed pattern itself could fail to count as "at least as extreme".
    slack = 1e-9 * float(np.abs(d).sum())
    threshold = observed - slack
    total = float(d.sum())

    if m <= _MAX_EXACT_FLIPS and (1 << m) <= n_resamples:
        patterns = np.arange(1 << m, dtype=np.int64)[:, None] >> np.arange(m) & 1
        # flipping the set F changes the sum to total - 2 * sum(d[F])
        sums = total - 2.0 * (patterns.astype(np.float64) @ d)
        hits = int((np.abs(sums) >= threshold).sum())
        return hits / float(1 << m), True

    rng = np.random.default_rng(seed)
    hits = 0
    for rows in _blocks(n_resamples, m):
        flips = rng.random((rows, m)) < 0.5
        sums = total - 2.0 * (flips @ d)
        hits += int((np.abs(sums) >= threshold).sum())
    return (1 + hits) / (1 + n_resamples), False


def _wilcoxon_p(diffs: FloatArray) -> float | None:
    try:
        from scipy.stats import wilcoxon
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            # small samples and ties trigger advisory warnings; the p-value is still usable
            warnings.simplefilter("ignore")
            result = wilcoxon(diffs, zero_method="wilcox", alternative="two-sided")
    except ValueError:
        return None
    return finite_or_none(float(result.pvalue))


def paired_test(
    a: Values,
    b: Values,
    *,
    n_resamples: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
    cap: float | None = None,
) -> PairedResult:
    """Compare per-query scores ``a`` and ``b`` of two systems on the same queries.

    ``a[i]`` and ``b[i]`` must belong to the same query. Reports the mean of ``b - a``, its
    bootstrap interval (``n_resamples`` resamples), the sign-flip p-value and the Wilcoxon
    signed-rank p-value. When every pair is tied both p-values are 1.0. Infinite scores are
    capped at ``±cap`` (default: one more than the largest finite magnitude seen); see the
    module documentation for why.
    """
    _check_settings(n_resamples, confidence)
    arr_a = _as_array(a, "a").copy()
    arr_b = _as_array(b, "b").copy()
    if arr_a.size != arr_b.size:
        raise ValueError(
            f"a and b must score the same queries: {arr_a.size} values against {arr_b.size}"
        )
    n_capped, _ = _cap_infinities(arr_a, arr_b, cap)
    diffs = arr_b - arr_a
    n_differ = int(np.count_nonzero(diffs))
    mean_diff, low, high = bootstrap_ci(
        diffs, n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    wilcoxon_p: float | None
    if n_differ == 0:
        p_value, exact, wilcoxon_p = 1.0, True, 1.0
    else:
        p_value, exact = sign_flip_p(diffs, n_resamples=n_resamples, seed=seed)
        wilcoxon_p = _wilcoxon_p(diffs)
    return PairedResult(
        n=int(arr_a.size),
        mean_a=float(arr_a.mean()),
        mean_b=float(arr_b.mean()),
        mean_diff=mean_diff,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        p_value=p_value,
        wilcoxon_p=wilcoxon_p,
        n_differ=n_differ,
        exact=exact,
        n_capped=n_capped,
    )
