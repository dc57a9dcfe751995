"""``summary.json``: the numbers behind the page, for scripts."""

from __future__ import annotations

from typing import Any

from xmodal.eval.curves import RECALL_LEVELS
from xmodal.eval.report.data import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    PERMUTATION_RESAMPLES,
    Comparison,
    ReportData,
    RunData,
)
from xmodal.jsonsafe import finite_or_none

_num = finite_or_none


def _run_json(run: RunData) -> dict[str, Any]:
    return {
        "name": run.report.name,
        "num_queries": run.report.result.num_queries,
        "metrics": {
            s.metric: {"value": _num(s.value), "low": _num(s.low), "high": _num(s.high)}
            for s in run.summaries
        },
        "recall_at_k": [_num(v) for v in run.recall],
        "interpolated_precision": {
            f"{level:.1f}": _num(v) for level, v in zip(RECALL_LEVELS, run.iprec, strict=True)
        },
        "hardest_queries": list(run.hardest),
    }


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "baseline": c.baseline,
        "run": c.run,
        "metric": c.metric,
        "n": c.test.n,
        "n_differ": c.test.n_differ,
        "mean_baseline": _num(c.test.mean_a),
        "mean_run": _num(c.test.mean_b),
        "diff": _num(c.test.mean_diff),
        "low": _num(c.test.ci_low),
        "high": _num(c.test.ci_high),
        "p_value": _num(c.test.p_value),
        "p_exact": c.test.exact,
        "wilcoxon_p": _num(c.test.wilcoxon_p),
    }


def summary_json(data: ReportData) -> dict[str, Any]:
    """The content of ``summary.json`` for ``data`` (JSON-safe: no infinities)."""
    return {
        "title": data.title,
        "generated": data.generated,
        "note": "null stands for an infinite or undefined value (e.g. median_rank when "
        "at least half the queries retrieve nothing relevant)",
        "confidence": CONFIDENCE,
        "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
        "permutation_resamples": PERMUTATION_RESAMPLES,
        "runs": [_run_json(run) for run in data.runs],
        "comparisons": [_comparison_json(c) for c in data.comparisons],
    }
