"""Late fusion of whole runs (one ranking per space, e.g. a pixel space and the text
attached to items), with the space weights fitted on validation queries.

Fusing uses the same :func:`xmodal.query.fusion.fuse` a collection's search uses, so weights
fitted here are the ``weights`` a search takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from xmodal.eval.metrics import evaluate
from xmodal.eval.trec import Qrels, Run
from xmodal.query.fusion import FusionMethod, fuse

#: the weight of the first space tried when fitting; the second gets ``1 - w``
WEIGHT_GRID: tuple[float, ...] = tuple(round(float(w), 2) for w in np.linspace(0.0, 1.0, 21))


def fuse_runs(
    runs: Mapping[str, Run],
    weights: Mapping[str, float],
    method: FusionMethod = "weighted",
    depth: int = 100,
) -> Run:
    """One run from several over the same queries, each query's rankings fused."""
    queries = sorted({q for run in runs.values() for q in run})
    out: Run = {}
    for q in queries:
        rankings = {
            space: sorted(run.get(q, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
            for space, run in runs.items()
        }
        fused = fuse(rankings, method, weights)
        # strictly decreasing scores keep the fused order under trec_eval's tie-break
        n = len(fused[:depth])
        out[q] = {f.key: float(n - r) for r, f in enumerate(fused[:depth])}
    return out


def fit_weights(
    runs: Mapping[str, Run],
    qrels: Qrels,
    method: FusionMethod = "weighted",
    metric: str = "mrr",
    grid: Sequence[float] = WEIGHT_GRID,
) -> tuple[dict[str, float], float]:
    """The weights of two spaces (``w`` and ``1 - w``, ``w`` from ``grid``) whose fused run
    scores best on ``metric`` over ``qrels``; ties go to the weight nearest an even split.
    Returns the weights and the score they reach."""
    if len(runs) != 2:
        raise ValueError(f"fitting weights needs exactly two runs, got {len(runs)}")
    a, b = list(runs)
    best: tuple[float, float, float] | None = None
    for w in grid:
        weights = {a: float(w), b: 1.0 - float(w)}
        score = evaluate(qrels, fuse_runs(runs, weights, method)).means[metric]
        key = (score, -abs(w - 0.5), w)
        if best is None or key > best:
            best = key
    assert best is not None
    w = best[2]
    return {a: w, b: 1.0 - w}, best[0]
