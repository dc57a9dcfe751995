"""Ranked-retrieval metrics that reproduce trec_eval's numbers.

Conventions, all as in trec_eval 9 (and its Python binding ``pytrec_eval``):

* A query's documents are ranked by score descending; equal scores are ordered by docid
  in *descending* code-point order. The rank column of a run file is ignored.
* Evaluated queries are those present in both the run and the qrels (a query counts as
  present in the qrels if it has at least one judgement line, relevant or not). A query
  judged only non-relevant is evaluated and scores 0 on every metric; queries in only one
  of the two are left out. Means are taken over the evaluated queries.
* A document is relevant when its judgement is >= 1. Unjudged documents are
  non-relevant. Graded judgements feed nDCG as gains.

Metric keys, for each cutoff k:

``success@k``, ``accuracy@k``  1 if any relevant document is in the top k (trec_eval
                               ``success_k``); the two names are the same number.
``precision@k``                relevant in the top k / k, even when fewer were retrieved
                               (``P_k``).
``recall@k``                   relevant in the top k / all relevant (``recall_k``).
``f1@k``                       harmonic mean of precision@k and recall@k; 0 when both are.
``map@k``                      average precision truncated at k, still divided by all
                               relevant (``map_cut_k``).
``ndcg@k``                     nDCG with gain = judgement, discount log2(rank + 1), ideal
                               ranking built from every judged document (``ndcg_cut_k``).
``ndcg_exp@k``                 the same with gain 2**rel - 1 (not in trec_eval).

and without a cutoff: ``map`` (``map``), ``ndcg`` (``ndcg``), ``ndcg_exp``, ``mrr``
(``recip_rank``: 1 / rank of the first relevant document, 0 if none is retrieved),
``r-precision`` (``Rprec``: precision at R = number of relevant documents), and
``median_rank``.

``median_rank``: per query, the rank of the first relevant document, or ``math.inf`` when
no relevant document is retrieved (including queries with none judged relevant); the
summary value is the median of those ranks, not their mean, and is itself ``inf`` when at
least half the queries find nothing (for an even count, the middle pair is averaged).
Infinity rather than "list length + 1" keeps the value independent of how deep a run
happens to go.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from xmodal.errors import UsageError
from xmodal.eval.trec import StrPath, ranking_order, read_qrels, read_run

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)
RELEVANCE_THRESHOLD = 1
"""Judgements at or above this are relevant (trec_eval's ``-l`` default)."""

_CUT_METRICS = (
    "success",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "map",
    "ndcg",
    "ndcg_exp",
)
_WHOLE_METRICS = ("map", "ndcg", "ndcg_exp", "mrr", "r-precision", "median_rank")


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Per-query scores and their summary over the evaluated queries.

    ``means`` holds the mean of every metric except ``median_rank``, which is a median.
    Both dicts list metrics in the same, stable order (the order ``metric_names`` gives).
    """

    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    num_queries: int
    ks: tuple[int, ...] = field(default=DEFAULT_KS)


def metric_names(ks: Iterable[int] = DEFAULT_KS) -> list[str]:
    """Every key a result holds for cutoffs ``ks``, in reporting order."""
    cuts = normalize_ks(ks)
    names = list(_WHOLE_METRICS)
    names += [f"{m}@{k}" for m in _CUT_METRICS for k in cuts]
    return names


def normalize_ks(ks: Iterable[int]) -> tuple[int, ...]:
    """Sorted, de-duplicated cutoffs; a cutoff below 1 is a ``UsageError``."""
    out: set[int] = set()
    for k in ks:
        # bool is an int subclass, and a float like 5.0 would make keys such as "p@5.0"
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise UsageError(f"cutoff k must be a positive integer, got {k!r}")
        out.add(k)
    if not out:
        raise UsageError("at least one cutoff k is needed")
    return tuple(sorted(out))


def _dcg_prefix(gains: Iterable[tuple[int, float]]) -> tuple[list[int], list[float]]:
    """For (0-based position, gain) pairs in position order: positions and running DCG."""
    positions: list[int] = []
    running: list[float] = []
    total = 0.0
    for pos, gain in gains:
        # log2(pos + 2) is log2(rank + 1): rank 1 is undiscounted, as in trec_eval 9
        total += gain / math.log2(pos + 2)
        positions.append(pos)
        running.append(total)
    return positions, running


def _upto(positions: list[int], running: list[float], k: int) -> float:
    """Value of a running sum over items at positions < k (0 when there are none)."""
    n = bisect_left(positions, k)
    return running[n - 1] if n else 0.0


def _exp_gain(rel: int) -> float:
    return float(2**rel - 1)


def evaluate_query(
    judged: Mapping[str, int], scores: Mapping[str, float], ks: Iterable[int] = DEFAULT_KS
) -> dict[str, float]:
    """Every metric for one query: ``judged`` is {docid: rel}, ``scores`` {docid: score}."""
    cuts = normalize_ks(ks)
    return _evaluate_query(judged, scores, cuts)


def _check_scores(scores: Mapping[str, float]) -> None:
    for docid, score in scores.items():
        if math.isnan(score):
            raise ValueError(f"score of document {docid!r} is NaN; it cannot be ranked")


def _evaluate_query(
    judged: Mapping[str, int], scores: Mapping[str, float], cuts: tuple[int, ...]
) -> dict[str, float]:
    _check_scores(scores)
    # Only the positions of relevant documents matter to every metric here, so the ranking
    # is reduced to those (usually a handful) and everything else is arithmetic on them.
    rel_pos: list[int] = []
    rel_val: list[int] = []
    for pos, (docid, _score) in enumerate(ranking_order(scores)):
        rel = judged.get(docid, 0)
        if rel >= RELEVANCE_THRESHOLD:
            rel_pos.append(pos)
            rel_val.append(rel)
    ideal = sorted((r for r in judged.values() if r >= RELEVANCE_THRESHOLD), reverse=True)
    num_rel = len(ideal)

    # Running sums of precision at each relevant document give AP at any cutoff.
    ap_running: list[float] = []
    total = 0.0
    for hits, pos in enumerate(rel_pos, start=1):
        total += hits / (pos + 1)
        ap_running.append(total)

    lin_pos, lin_run = _dcg_prefix(zip(rel_pos, map(float, rel_val), strict=True))
    exp_pos, exp_run = _dcg_prefix(zip(rel_pos, map(_exp_gain, rel_val), strict=True))
    ideal_pos, ideal_lin = _dcg_prefix(enumerate(map(float, ideal)))
    _, ideal_exp = _dcg_prefix(enumerate(map(_exp_gain, ideal)))

    def ratio(num: float, den: float) -> float:
        return num / den if den > 0 else 0.0

    out: dict[str, float] = {}
    out["map"] = ratio(ap_running[-1] if ap_running else 0.0, num_rel)
    # No cutoff: the whole ranking against the whole ideal list.
    out["ndcg"] = ratio(lin_run[-1] if lin_run else 0.0, ideal_lin[-1] if ideal_lin else 0.0)
    out["ndcg_exp"] = ratio(exp_run[-1] if exp_run else 0.0, ideal_exp[-1] if ideal_exp else 0.0)
    out["mrr"] = 1.0 / (rel_pos[0] + 1) if rel_pos else 0.0
    out["r-precision"] = ratio(bisect_left(rel_pos, num_rel), num_rel)
    out["median_rank"] = float(rel_pos[0] + 1) if rel_pos else math.inf

    per_cut: dict[str, dict[int, float]] = {m: {} for m in _CUT_METRICS}
    for k in cuts:
        hits = bisect_left(rel_pos, k)
        precision = hits / k
        recall = ratio(hits, num_rel)
        success = 1.0 if hits else 0.0
        per_cut["success"][k] = success
        per_cut["accuracy"][k] = success
        per_cut["precision"][k] = precision
        per_cut["recall"][k] = recall
        per_cut["f1"][k] = ratio(2 * precision * recall, precision + recall)
        per_cut["map"][k] = ratio(_upto(rel_pos, ap_running, k), num_rel)
        per_cut["ndcg"][k] = ratio(_upto(lin_pos, lin_run, k), _upto(ideal_pos, ideal_lin, k))
        per_cut["ndcg_exp"][k] = ratio(_upto(exp_pos, exp_run, k), _upto(ideal_pos, ideal_exp, k))
    for metric in _CUT_METRICS:
        for k in cuts:
            out[f"{metric}@{k}"] = per_cut[metric][k]
    return out


def evaluate(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    ks: Iterable[int] = DEFAULT_KS,
) -> EvalResult:
    """Score ``run`` ({qid: {docid: score}}) against ``qrels`` ({qid: {docid: rel}}).

    Queries are evaluated in the run's order. With no query in common, ``means`` is empty
    and ``num_queries`` 0.
    """
    cuts = normalize_ks(ks)
    per_query: dict[str, dict[str, float]] = {}
    for qid, scores in run.items():
        judged = qrels.get(qid)
        # An empty judgement dict is a query nobody assessed, which trec_eval cannot even
        # represent; treat it as absent from the qrels, as pytrec_eval does.
        if not judged:
            continue
        per_query[qid] = _evaluate_query(judged, scores, cuts)
    return EvalResult(
        means=summarize(per_query, cuts),
        per_query=per_query,
        num_queries=len(per_query),
        ks=cuts,
    )


def summarize(
    per_query: Mapping[str, Mapping[str, float]], ks: Iterable[int] = DEFAULT_KS
) -> dict[str, float]:
    """Mean of each metric over queries (median for ``median_rank``); {} for no queries."""
    if not per_query:
        return {}
    rows = list(per_query.values())
    means: dict[str, float] = {}
    for name in metric_names(ks):
        values = [row[name] for row in rows]
        if name == "median_rank":
            means[name] = float(statistics.median(values))
        else:
            # fsum: the mean must not depend on query order beyond the last bit
            means[name] = math.fsum(values) / len(values)
    return means


def evaluate_files(
    qrels_path: StrPath, run_path: StrPath, ks: Iterable[int] = DEFAULT_KS
) -> EvalResult:
    """Read a qrels file and a run file and evaluate; malformed input is a ``UsageError``.

    Also a ``UsageError`` when the two files share no query, since every number would be
    meaningless (trec_eval exits with an error in that case too).
    """
    cuts = normalize_ks(ks)
    qrels = read_qrels(qrels_path)
    run = read_run(run_path)
    result = evaluate(qrels, run, cuts)
    if result.num_queries == 0:
        raise UsageError(
            f"no query of run {run_path} has judgements in qrels {qrels_path}; "
            "check that both files use the same query ids"
        )
    return result


def format_table(means: Mapping[str, float]) -> str:
    """Two aligned columns, metric and value, one metric a line, for a terminal."""
    if not means:
        return "(no queries evaluated)"
    width = max(len(name) for name in means)
    lines = []
    for name, value in means.items():
        if name == "median_rank":
            # a rank reads best as a plain number; 'inf' when most queries find nothing
            text = "inf" if math.isinf(value) else f"{value:g}"
        else:
            text = f"{value:.4f}"
        lines.append(f"{name:<{width}}  {text:>8}")
    return "\n".join(lines)
