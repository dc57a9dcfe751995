"""Retrieval evaluation: TREC qrels and run files, and ranked-retrieval metrics that
reproduce trec_eval's numbers."""

from xmodal.eval.metrics import (
    DEFAULT_KS,
    RELEVANCE_THRESHOLD,
    EvalResult,
    evaluate,
    evaluate_files,
    evaluate_query,
    format_table,
    metric_names,
    normalize_ks,
    summarize,
)
from xmodal.eval.trec import (
    QrelRecord,
    Qrels,
    Run,
    RunRecord,
    iter_qrels,
    iter_run,
    ranking_order,
    read_qrels,
    read_run,
    write_qrels,
    write_run,
)

__all__ = [
    "DEFAULT_KS",
    "RELEVANCE_THRESHOLD",
    "EvalResult",
    "QrelRecord",
    "Qrels",
    "Run",
    "RunRecord",
    "evaluate",
    "evaluate_files",
    "evaluate_query",
    "format_table",
    "iter_qrels",
    "iter_run",
    "metric_names",
    "normalize_ks",
    "ranking_order",
    "read_qrels",
    "read_run",
    "summarize",
    "write_qrels",
    "write_run",
]
