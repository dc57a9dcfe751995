"""What a report shows, as typed records, and the numbers behind them.

Everything here is computed before anything is drawn or written: per-run summaries with
bootstrap intervals, paired comparisons against the first run, curves and the hardest
queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from xmodal.eval.curves import FloatArray, interpolated_precision, recall_curve
from xmodal.eval.metrics import EvalResult, evaluate
from xmodal.eval.stats import PairedResult, bootstrap_ci, paired_test
from xmodal.eval.trec import Qrels, Run

COMPARED_METRICS: tuple[str, ...] = ("recall@10", "ndcg@10", "map", "mrr")
"""Metrics tested for a difference between each run and the first."""

MAX_CURVE_K = 100
"""Default upper end of the recall@k curve when the runs retrieve deeper than this."""

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
PERMUTATION_RESAMPLES = 10000
SIGNIFICANCE = 0.05

# Metrics whose smaller values are better; every other metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"median_rank"})
# Needed per query for the comparisons and for picking the hardest queries, whatever
# cutoffs the caller evaluated with.
_REQUIRED = frozenset({"map", "mrr", "median_rank", "recall@10", "ndcg@10"})

QueryTable = dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class RunReport:
    """One run to report: its inputs, its evaluation, and how to show queries and results.

    ``result`` must come from ``evaluate(qrels, run, ...)`` (any cutoffs); ``queries`` maps
    query ids to their text and ``doc_labels`` document ids to a human label such as a file
    path. Missing entries fall back to the ids.
    """

    name: str
    qrels: Qrels
    run: Run
    result: EvalResult
    queries: dict[str, str] = field(default_factory=dict)
    doc_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """A run's summary value of one metric with its bootstrap interval."""

    metric: str
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """A run against the baseline on one metric, over the queries both evaluated."""

    baseline: str
    run: str
    metric: str
    test: PairedResult


@dataclass(frozen=True, slots=True)
class RunData:
    """One run as the report shows it."""

    report: RunReport
    table: QueryTable
    """Per-query metrics, with those the report needs filled in."""
    summaries: tuple[MetricSummary, ...]
    recall: FloatArray
    """Mean recall@k for k = 1..max_k."""
    iprec: FloatArray
    """Mean interpolated precision at ``RECALL_LEVELS``."""
    hardest: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything a report shows; the first run is the baseline."""

    title: str
    generated: str
    runs: tuple[RunData, ...]
    comparisons: tuple[Comparison, ...]
    max_k: int
    marks: tuple[int, ...]
    """The evaluated cutoffs, marked on the recall@k curve."""


def _main_metrics(results: Sequence[EvalResult]) -> list[str]:
    """Metrics for the summary table that every run has, in reading order."""
    ks = sorted(set().union(*(r.ks for r in results)))
    wanted = ["map", "mrr", "ndcg", "r-precision"]
    for family in ("success", "recall", "ndcg"):
        wanted += [f"{family}@{k}" for k in ks]
    wanted.append("median_rank")
    return [m for m in wanted if all(m in r.means for r in results)]


def _per_query_table(rr: RunReport) -> QueryTable:
    """``rr.result.per_query`` with the metrics in ``_REQUIRED`` filled in where missing."""
    pq = rr.result.per_query
    if all(row.keys() >= _REQUIRED for row in pq.values()):
        return pq
    subset = {qid: rr.run[qid] for qid in pq}
    extra = evaluate(rr.qrels, subset, ks=(10,)).per_query
    return {qid: {**extra[qid], **row} for qid, row in pq.items()}


def _summaries(rr: RunReport, metrics: Sequence[str]) -> list[MetricSummary]:
    out = []
    for metric in metrics:
        values = [row[metric] for row in rr.result.per_query.values()]
        if not values:
            continue
        # median_rank is summarised by a median everywhere else (it is inf for a query that
        # finds nothing), so its interval is for the median too.
        statistic: Literal["mean", "median"] = "median" if metric == "median_rank" else "mean"
        _, low, high = bootstrap_ci(
            values,
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence=CONFIDENCE,
            statistic=statistic,
        )
        out.append(MetricSummary(metric, rr.result.means[metric], low, high))
    return out


def _compare(
    base: RunReport,
    base_table: Mapping[str, Mapping[str, float]],
    other: RunReport,
    other_table: Mapping[str, Mapping[str, float]],
) -> list[Comparison]:
    shared = [qid for qid in base_table if qid in other_table]
    if not shared:
        return []
    out = []
    for metric in COMPARED_METRICS:
        test = paired_test(
            [base_table[q][metric] for q in shared],
            [other_table[q][metric] for q in shared],
            n_resamples=PERMUTATION_RESAMPLES,
            confidence=CONFIDENCE,
        )
        out.append(Comparison(base.name, other.name, metric, test))
    return out


def _hardest(table: Mapping[str, Mapping[str, float]], n: int) -> list[str]:
    """The ``n`` queries with the lowest AP, then lowest recall@10 (then by id, for ties)."""
    order = sorted(table, key=lambda q: (table[q]["map"], table[q]["recall@10"], q))
    return order[:n]


def _default_max_k(runs: Sequence[RunReport]) -> int:
    depth = max(
        (len(rr.run[qid]) for rr in runs for qid in rr.result.per_query),
        default=1,
    )
    return max(1, min(MAX_CURVE_K, depth))


def check_runs(runs: Sequence[RunReport], worst_n: int, max_k: int | None) -> None:
    """Refuse input a report cannot be made of, before anything is written."""
    if not runs:
        raise ValueError("a report needs at least one run")
    names = [rr.name for rr in runs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"run names must be distinct; repeated: {', '.join(dupes)}")
    if worst_n < 0:
        raise ValueError(f"worst_n must not be negative, got {worst_n}")
    if max_k is not None and max_k < 1:
        raise ValueError(f"max_k must be at least 1, got {max_k}")
    for rr in runs:
        stray = [q for q in rr.result.per_query if q not in rr.run or not rr.qrels.get(q)]
        if stray:
            raise ValueError(
                f"run {rr.name!r}: result has queries its run or qrels lack "
                f"(e.g. {stray[0]!r}); pass the result of evaluate(qrels, run)"
            )


def collect(
    runs: Sequence[RunReport],
    *,
    title: str,
    generated: str,
    worst_n: int,
    max_k: int | None,
) -> ReportData:
    """The numbers of a report of ``runs`` (checked with :func:`check_runs` first)."""
    depth = max_k if max_k is not None else _default_max_k(runs)
    tables = [_per_query_table(rr) for rr in runs]
    metrics = _main_metrics([rr.result for rr in runs])
    comparisons: list[Comparison] = []
    for rr, table in zip(runs[1:], tables[1:], strict=True):
        comparisons += _compare(runs[0], tables[0], rr, table)
    shown = tuple(
        RunData(
            report=rr,
            table=table,
            summaries=tuple(_summaries(rr, metrics)),
            recall=recall_curve(rr.qrels, rr.run, rr.result.per_query, depth),
            iprec=interpolated_precision(rr.qrels, rr.run, rr.result.per_query),
            hardest=tuple(_hardest(table, worst_n)),
        )
        for rr, table in zip(runs, tables, strict=True)
    )
    return ReportData(
        title=title,
        generated=generated,
        runs=shown,
        comparisons=tuple(comparisons),
        max_k=depth,
        marks=tuple(sorted(set().union(*(rr.result.ks for rr in runs)))),
    )
