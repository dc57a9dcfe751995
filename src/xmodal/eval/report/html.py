"""The report page: view records for the templates, rendered by Jinja2 with autoescaping.

The templates and the stylesheet are package data under ``templates/``. The stylesheet is
inlined into the page, which needs nothing but the files beside it: no script, font, or
stylesheet is fetched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import jinja2
from markupsafe import Markup

from xmodal.eval.curves import num_relevant
from xmodal.eval.metrics import RELEVANCE_THRESHOLD
from xmodal.eval.report.data import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    LOWER_IS_BETTER,
    PERMUTATION_RESAMPLES,
    SIGNIFICANCE,
    Comparison,
    ReportData,
    RunData,
)
from xmodal.eval.report.plots import PR_PLOT, RECALL_PLOT
from xmodal.eval.report.thumbs import Thumb, Thumbnails
from xmodal.eval.trec import ranking_order

TOP_SHOWN = 5
_TEMPLATES = "templates"
_STYLESHEET = "report.css"


@dataclass(frozen=True, slots=True)
class MetricCell:
    value: str
    interval: str
    best: bool


@dataclass(frozen=True, slots=True)
class MetricRow:
    metric: str
    cells: tuple[MetricCell, ...]


@dataclass(frozen=True, slots=True)
class CompareRow:
    run: str
    run_rows: int
    """How many rows the run's name cell spans; 0 on the rows it already covers."""
    metric: str
    mean_baseline: str
    mean_run: str
    diff: str
    direction: str
    """``up`` or ``down`` for a significant difference, else empty."""
    interval: str
    p_value: str
    wilcoxon_p: str
    differing: str


@dataclass(frozen=True, slots=True)
class Tile:
    rank: int
    label: str
    short: str
    relevant: bool
    thumb: Thumb | None


@dataclass(frozen=True, slots=True)
class QueryBlock:
    position: int
    qid: str
    text: str
    ap: str
    recall10: str
    first_relevant: str
    num_relevant: int
    tiles: tuple[Tile, ...]


@dataclass(frozen=True, slots=True)
class RunQueries:
    name: str
    blocks: tuple[QueryBlock, ...]


def _fmt(metric: str, value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if metric == "median_rank":
        return f"{value:g}"
    return f"{value:.3f}"


def _fmt_diff(value: float) -> str:
    return "0.000" if value == 0 else f"{value:+.3f}".replace("-", "−")


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _short(label: str) -> str:
    """The last path component of a label: what tells results apart in a narrow caption."""
    tail = label.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    return tail or label


def _metric_rows(runs: Sequence[RunData]) -> list[MetricRow]:
    rows = []
    for i, metric in enumerate(s.metric for s in runs[0].summaries):
        values = [run.summaries[i].value for run in runs]
        best: float | None = None
        if len(runs) > 1:
            best = min(values) if metric in LOWER_IS_BETTER else max(values)
        cells = tuple(
            MetricCell(
                _fmt(metric, s.value),
                f"{_fmt(metric, s.low)}–{_fmt(metric, s.high)}",
                best is not None and s.value == best,
            )
            for s in (run.summaries[i] for run in runs)
        )
        rows.append(MetricRow(metric, cells))
    return rows


def _compare_rows(comparisons: Sequence[Comparison]) -> list[CompareRow]:
    rows = []
    for i, c in enumerate(comparisons):
        t = c.test
        direction = ""
        if t.p_value < SIGNIFICANCE and (t.ci_low > 0 or t.ci_high < 0):
            direction = "up" if t.mean_diff > 0 else "down"
        # One name cell spans each run's rows: repeating it squeezes the numbers.
        span = 0
        if i == 0 or comparisons[i - 1].run != c.run:
            span = sum(1 for other in comparisons[i:] if other.run == c.run)
        rows.append(
            CompareRow(
                run=c.run,
                run_rows=span,
                metric=c.metric,
                mean_baseline=f"{t.mean_a:.3f}",
                mean_run=f"{t.mean_b:.3f}",
                diff=_fmt_diff(t.mean_diff),
                direction=direction,
                interval=f"{_fmt_diff(t.ci_low)} … {_fmt_diff(t.ci_high)}",
                p_value=_fmt_p(t.p_value),
                wilcoxon_p=_fmt_p(t.wilcoxon_p),
                differing=f"{t.n_differ} / {t.n}",
            )
        )
    return rows


def _query_block(
    position: int, qid: str, run: RunData, row: Mapping[str, float], thumbs: Thumbnails
) -> QueryBlock:
    rr = run.report
    judged = rr.qrels.get(qid, {})
    first = row["median_rank"]
    tiles = []
    for rank, (docid, _score) in enumerate(ranking_order(rr.run.get(qid, {}))[:TOP_SHOWN], 1):
        label = rr.doc_labels.get(docid, docid)
        relevant = judged.get(docid, 0) >= RELEVANCE_THRESHOLD
        tiles.append(Tile(rank, label, _short(label), relevant, thumbs.get(docid)))
    return QueryBlock(
        position=position,
        qid=qid,
        text=rr.queries.get(qid, ""),
        ap=f"{row['map']:.3f}",
        recall10=f"{row['recall@10']:.3f}",
        first_relevant="not retrieved" if math.isinf(first) else f"{first:g}",
        num_relevant=num_relevant(judged),
        tiles=tuple(tiles),
    )


def _hardest(runs: Sequence[RunData], thumbs: Thumbnails) -> list[RunQueries]:
    return [
        RunQueries(
            run.report.name,
            tuple(
                _query_block(i, qid, run, run.table[qid], thumbs)
                for i, qid in enumerate(run.hardest, 1)
            ),
        )
        for run in runs
        if run.hardest
    ]


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(__package__ or "xmodal.eval.report", _TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _stylesheet() -> Markup:
    # The stylesheet is the package's own file, inlined as it is.
    text = files(__package__ or "xmodal.eval.report").joinpath(_TEMPLATES, _STYLESHEET)
    return Markup(text.read_text(encoding="utf-8"))


def render_page(
    data: ReportData, thumbs: Thumbnails, reliability_plot: str | None = None
) -> str:
    """The page of ``data``; thumbnails are written through ``thumbs`` as they are shown;
    ``reliability_plot``, the file of a reliability diagram beside the page, is shown too."""
    runs = data.runs
    return (
        _environment()
        .get_template("page.html.j2")
        .render(
            css=_stylesheet(),
            title=data.title,
            generated=data.generated,
            runs=[(run.report.name, run.report.result.num_queries) for run in runs],
            baseline=runs[0].report.name,
            metric_rows=_metric_rows(runs),
            compare_rows=_compare_rows(data.comparisons),
            hardest=_hardest(runs, thumbs),
            max_k=data.max_k,
            recall_plot=RECALL_PLOT,
            pr_plot=PR_PLOT,
            reliability_plot=reliability_plot,
            top_shown=TOP_SHOWN,
            confidence=f"{CONFIDENCE:.0%}",
            bootstrap_resamples=BOOTSTRAP_RESAMPLES,
            permutation_resamples=PERMUTATION_RESAMPLES,
            significance=SIGNIFICANCE,
        )
    )
