"""Ranking curves over a set of queries: recall at every depth, interpolated precision.

Both follow the conventions of :mod:`xmodal.eval.metrics` (trec_eval's ranking order and
relevance threshold), so a point on a curve equals the metric of the same name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from xmodal.eval.metrics import RELEVANCE_THRESHOLD
from xmodal.eval.trec import ranking_order

FloatArray = npt.NDArray[np.float64]

RECALL_LEVELS: tuple[float, ...] = tuple(i / 10 for i in range(11))
"""Recall levels of the interpolated precision-recall curve (trec_eval's defaults)."""


def relevant_positions(judged: Mapping[str, int], scores: Mapping[str, float]) -> list[int]:
    """0-based positions of the relevant documents in trec_eval's ranking of ``scores``."""
    return [
        pos
        for pos, (docid, _score) in enumerate(ranking_order(scores))
        if judged.get(docid, 0) >= RELEVANCE_THRESHOLD
    ]


def num_relevant(judged: Mapping[str, int]) -> int:
    """How many of a query's judgements count as relevant."""
    return sum(1 for rel in judged.values() if rel >= RELEVANCE_THRESHOLD)


def recall_curve(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    qids: Iterable[str],
    max_k: int,
) -> FloatArray:
    """Mean recall@k over ``qids`` for k = 1..max_k (index k - 1).

    A query with nothing judged relevant scores 0 at every k, as in ``metrics``; all zeros
    when ``qids`` is empty.
    """
    if max_k < 1:
        raise ValueError(f"max_k must be at least 1, got {max_k}")
    total = np.zeros(max_k, dtype=np.float64)
    count = 0
    for qid in qids:
        count += 1
        judged = qrels.get(qid, {})
        num_rel = num_relevant(judged)
        if num_rel == 0:
            continue
        hits = np.zeros(max_k, dtype=np.float64)
        for pos in relevant_positions(judged, run.get(qid, {})):
            if pos >= max_k:
                break
            hits[pos] = 1.0
        total += np.cumsum(hits) / num_rel
    return total / count if count else total


def _iprec_query(rel_pos: Sequence[int], num_rel: int) -> list[float]:
    """trec_eval's ``iprec_at_recall`` for one query, at ``RECALL_LEVELS``."""
    if num_rel == 0 or not rel_pos:
        return [0.0] * len(RECALL_LEVELS)
    # Interpolated precision at the j-th relevant document: the best precision at it or
    # anywhere below it in the ranking.
    interp = [(j + 1) / (pos + 1) for j, pos in enumerate(rel_pos)]
    for j in range(len(interp) - 2, -1, -1):
        interp[j] = max(interp[j], interp[j + 1])
    out = []
    for level in RECALL_LEVELS:
        # trec_eval converts a recall level into a count of relevant documents with this
        # exact rounding ((long)(level * num_rel + 0.9)); other rounding shifts the curve.
        need = int(level * num_rel + 0.9)
        if need > len(rel_pos):
            out.append(0.0)
        else:
            out.append(interp[max(need, 1) - 1])
    return out


def interpolated_precision(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    qids: Iterable[str],
) -> FloatArray:
    """Mean 11-point interpolated precision over ``qids``, one value per ``RECALL_LEVELS``.

    Per query this is trec_eval's ``iprec_at_recall``: at recall level r, the highest
    precision at any rank where recall is at least r, and 0 for a level never reached.
    """
    total = np.zeros(len(RECALL_LEVELS), dtype=np.float64)
    count = 0
    for qid in qids:
        count += 1
        judged = qrels.get(qid, {})
        rel_pos = relevant_positions(judged, run.get(qid, {}))
        total += np.asarray(_iprec_query(rel_pos, num_relevant(judged)))
    return total / count if count else total
