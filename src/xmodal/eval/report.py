"""A static HTML report for one or more evaluated runs over the same qrels.

``write_report`` produces, in ``out_dir``::

    index.html          the page: metric table with bootstrap intervals, comparisons
                        against the first run, curves, and each run's hardest queries
    recall_at_k.png     mean recall@k for k = 1..max_k, one line per run
    precision_recall.png  11-point interpolated precision-recall (trec_eval's
                        ``iprec_at_recall``), one line per run
    thumbs/*.png        small copies of result images, when a thumbnail source is given
    summary.json        the numbers behind the page, for scripts

The page needs nothing but the files beside it: no script, font, or stylesheet is fetched.
Every file is written under a temporary name and renamed into place, and ``index.html``
comes last, so a reader never sees a half-written file, and an existing report stays
whole until its page is replaced. Nothing else in ``out_dir`` is removed.

Plots are drawn on matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``),
which needs no backend selection: writing a report leaves pyplot's global backend alone.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from xmodal.atomic import atomic_write_bytes
from xmodal.eval.metrics import RELEVANCE_THRESHOLD, EvalResult, evaluate
from xmodal.eval.stats import PairedResult, bootstrap_ci, paired_test
from xmodal.eval.trec import Qrels, Run, ranking_order

FloatArray = npt.NDArray[np.float64]

RECALL_LEVELS: tuple[float, ...] = tuple(i / 10 for i in range(11))
"""Recall levels of the interpolated precision-recall curve (trec_eval's defaults)."""

COMPARED_METRICS: tuple[str, ...] = ("recall@10", "ndcg@10", "map", "mrr")
"""Metrics tested for a difference between each run and the first."""

MAX_CURVE_K = 100
"""Default upper end of the recall@k curve when the runs retrieve deeper than this."""

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
PERMUTATION_RESAMPLES = 10000
SIGNIFICANCE = 0.05
# Thumbnails are stored at twice the size they are shown, to stay sharp on dense screens.
THUMB_SIZE = 224
TOP_SHOWN = 5

RECALL_PLOT = "recall_at_k.png"
PR_PLOT = "precision_recall.png"
THUMB_DIR = "thumbs"

# Metrics whose smaller values are better; every other metric is higher-is-better.
_LOWER_IS_BETTER = frozenset({"median_rank"})
# Needed per query for the comparisons and for picking the hardest queries, whatever
# cutoffs the caller evaluated with.
_REQUIRED = frozenset({"map", "mrr", "median_rank", "recall@10", "ndcg@10"})


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


# --- curves ----------------------------------------------------------------------------


def _relevant_positions(judged: Mapping[str, int], scores: Mapping[str, float]) -> list[int]:
    """0-based positions of the relevant documents in trec_eval's ranking of ``scores``."""
    return [
        pos
        for pos, (docid, _score) in enumerate(ranking_order(scores))
        if judged.get(docid, 0) >= RELEVANCE_THRESHOLD
    ]


def _num_relevant(judged: Mapping[str, int]) -> int:
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
        num_rel = _num_relevant(judged)
        if num_rel == 0:
            continue
        hits = np.zeros(max_k, dtype=np.float64)
        for pos in _relevant_positions(judged, run.get(qid, {})):
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
        rel_pos = _relevant_positions(judged, run.get(qid, {}))
        total += np.asarray(_iprec_query(rel_pos, _num_relevant(judged)))
    return total / count if count else total


# --- numbers ---------------------------------------------------------------------------


def _main_metrics(results: Sequence[EvalResult]) -> list[str]:
    """Metrics for the summary table that every run has, in reading order."""
    ks = sorted(set().union(*(r.ks for r in results)))
    wanted = ["map", "mrr", "ndcg", "r-precision"]
    for family in ("success", "recall", "ndcg"):
        wanted += [f"{family}@{k}" for k in ks]
    wanted.append("median_rank")
    return [m for m in wanted if all(m in r.means for r in results)]


def _per_query_table(rr: RunReport) -> dict[str, dict[str, float]]:
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


# --- files -----------------------------------------------------------------------------



@dataclass(frozen=True, slots=True)
class _Thumb:
    src: str
    width: int
    height: int


class _Thumbnails:
    """Copies each document's image once into ``thumbs/`` as a small PNG."""

    def __init__(self, out_dir: Path, source: Callable[[str], Path | None] | None) -> None:
        self._dir = out_dir / THUMB_DIR
        self._source = source
        self._done: dict[str, _Thumb | None] = {}

    def get(self, docid: str) -> _Thumb | None:
        if self._source is None:
            return None
        if docid not in self._done:
            path = self._source(docid)
            self._done[docid] = self._make(docid, Path(path)) if path is not None else None
        return self._done[docid]

    def _make(self, docid: str, path: Path) -> _Thumb | None:
        from PIL import Image, ImageOps

        try:
            with Image.open(path) as opened:
                # JPEG can decode at a fraction of full size, far cheaper for big photos
                opened.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))
                im = ImageOps.exif_transpose(opened)
                # Convert before shrinking: palette and bilevel images would otherwise be
                # resized with nearest-neighbour sampling and look ragged.
                if im.mode not in ("L", "RGB", "RGBA"):
                    alpha = "A" in im.getbands() or "transparency" in im.info
                    im = im.convert("RGBA" if alpha else "RGB")
                im.thumbnail((THUMB_SIZE, THUMB_SIZE))
                buf = io.BytesIO()
                im.save(buf, format="PNG", optimize=True)
                size = im.size
        except (OSError, ValueError, EOFError, Image.DecompressionBombError):
            # An unreadable image is shown by its label instead; the report still renders.
            return None
        # A digest makes a safe, stable file name out of any document id.
        digest = hashlib.sha256(docid.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        self._dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self._dir / f"{digest}.png", buf.getvalue())
        return _Thumb(f"{THUMB_DIR}/{digest}.png", size[0], size[1])


def _legend_label(name: str) -> str:
    # matplotlib hides labels starting with "_" and reads "$...$" as mathtext
    label = name if len(name) <= 40 else name[:39] + "…"
    label = label.replace("$", r"\$")
    return "\u200b" + label if label.startswith("_") else label


def _draw_plots(
    out_dir: Path,
    names: Sequence[str],
    recall: Sequence[FloatArray],
    iprec: Sequence[FloatArray],
    marks: Sequence[int],
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    colors = [f"C{i}" for i in range(10)]
    styles = ["-", "--", ":", "-."]

    def styled(i: int) -> dict[str, Any]:
        # colour cycles first, then the line style, so 11+ runs stay distinguishable
        return {"color": colors[i % 10], "linestyle": styles[(i // 10) % 4], "linewidth": 2}

    def new_axes(xlabel: str, ylabel: str, title: str) -> tuple[Figure, Any]:
        fig = Figure(figsize=(6.4, 4.2), dpi=150, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=12, loc="left")
        ax.set_ylim(0.0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        return fig, ax

    def save(fig: Figure, name: str) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", facecolor="white")
        atomic_write_bytes(out_dir / name, buf.getvalue())

    max_k = len(recall[0])
    ks = np.arange(1, max_k + 1)
    fig, ax = new_axes("k (results inspected)", "mean recall@k", "Recall at depth k")
    mark_idx = [k - 1 for k in marks if 1 <= k <= max_k]
    for i, (name, curve) in enumerate(zip(names, recall, strict=True)):
        ax.plot(
            ks,
            curve,
            label=_legend_label(name),
            marker="o",
            markersize=4,
            markevery=mark_idx or None,
            **styled(i),
        )
    if max_k >= 20:
        ax.set_xscale("log")
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= max_k]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(1, max_k)
    ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    save(fig, RECALL_PLOT)

    fig, ax = new_axes("recall", "interpolated precision", "Precision-recall (11-point)")
    for i, (name, curve) in enumerate(zip(names, iprec, strict=True)):
        ax.plot(
            RECALL_LEVELS, curve, label=_legend_label(name), marker="o", markersize=4, **styled(i)
        )
    ax.set_xlim(0.0, 1.0)
    ax.set_xticks(RECALL_LEVELS)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
    save(fig, PR_PLOT)


# --- html ------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


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
    return "&lt; 0.001" if p < 0.001 else f"{p:.3f}"


_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d8dee4; --soft: #f6f8fa;
  --good: #1a7f37; --bad: #c62828; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 32px 56px; }
h1 { font-size: 26px; line-height: 1.25; margin: 0 0 6px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 40px 0 12px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 28px 0 4px; overflow-wrap: anywhere; }
p { margin: 6px 0; }
.meta, .note { color: var(--muted); font-size: 13.5px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.metrics { width: auto; min-width: 50%; }
th, td { padding: 7px 12px; border-bottom: 1px solid var(--line); text-align: right;
  vertical-align: baseline; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: var(--soft); font-weight: 600; border-bottom: 2px solid var(--line);
  vertical-align: bottom; }
table.compare thead th { white-space: normal; }
thead th .sub { display: block; font-weight: 400; color: var(--muted); font-size: 12.5px; }
tbody tr:hover { background: #fafbfc; }
td.metric { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 13.5px; }
.ci { color: var(--muted); font-size: 12.5px; margin-left: 6px; }
.best { font-weight: 700; }
.up { color: var(--good); font-weight: 600; }
.down { color: var(--bad); font-weight: 600; }
.name { white-space: normal; overflow-wrap: anywhere; min-width: 9em; max-width: 260px; }
table.compare td.name { vertical-align: top; font-weight: 600;
  border-right: 1px solid var(--line); }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr));
  gap: 20px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 12px;
  background: #fff; }
figure img { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 8px; }
.query { display: grid; grid-template-columns: minmax(220px, 300px) 1fr; gap: 18px;
  padding: 14px 0; border-bottom: 1px solid var(--line); }
.qhead { font-size: 12.5px; color: var(--muted); }
.qhead b { color: var(--fg); font-weight: 600; }
.qtext { font-weight: 600; margin: 2px 0 6px; overflow-wrap: anywhere; }
.qtext.none { color: var(--muted); font-weight: 400; font-style: italic; }
.stats { display: grid; grid-template-columns: auto 1fr; gap: 0 12px; font-size: 13px;
  font-variant-numeric: tabular-nums; }
.stats dt { color: var(--muted); }
.stats dd { margin: 0; }
.results { display: flex; flex-wrap: wrap; gap: 10px; align-content: flex-start; }
.tile { width: 128px; border: 3px solid var(--line); border-radius: 8px; padding: 4px;
  background: #fff; }
.tile.rel { border-color: var(--good); background: #f0faf2; }
.tile .box { height: 112px; display: flex; align-items: center; justify-content: center;
  background: var(--soft); border-radius: 4px; overflow: hidden; }
.tile img { width: auto; height: auto; max-width: 112px; max-height: 112px; display: block; }
.tile .text { padding: 6px; font-size: 12px; line-height: 1.3; overflow-wrap: anywhere;
  max-height: 100%; overflow: hidden; color: var(--fg); }
.tile .cap { font-size: 12px; line-height: 1.3; margin-top: 4px; overflow: hidden;
  overflow-wrap: anywhere; display: -webkit-box; -webkit-box-orient: vertical;
  -webkit-line-clamp: 2; line-clamp: 2; min-height: 2.6em; }
.tile .mark { font-size: 11.5px; color: var(--muted); }
.tile.rel .mark { color: var(--good); font-weight: 600; }
.empty { color: var(--muted); font-style: italic; }
@media (max-width: 760px) {
  main { padding: 18px 14px 40px; }
  .query { grid-template-columns: 1fr; }
  .plots { grid-template-columns: 1fr; }
}
"""


def _metric_table(runs: Sequence[RunReport], summaries: Sequence[Sequence[MetricSummary]]) -> str:
    head = "".join(
        f'<th class="name">{_e(rr.name)}<span class="sub">{rr.result.num_queries} queries'
        "</span></th>"
        for rr in runs
    )
    rows = []
    metrics = [s.metric for s in summaries[0]]
    for i, metric in enumerate(metrics):
        values = [s[i].value for s in summaries]
        best: float | None = None
        if len(runs) > 1:
            best = min(values) if metric in _LOWER_IS_BETTER else max(values)
        cells = []
        for s in summaries:
            cls = ' class="best"' if best is not None and s[i].value == best else ""
            ci = f"{_fmt(metric, s[i].low)}–{_fmt(metric, s[i].high)}"
            cells.append(
                f"<td><span{cls}>{_fmt(metric, s[i].value)}</span>"
                f'<span class="ci">{_e(ci)}</span></td>'
            )
        rows.append(f'<tr><td class="metric">{_e(metric)}</td>{"".join(cells)}</tr>')
    return (
        '<div class="scroll"><table class="metrics"><thead><tr><th>metric</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _comparison_table(comparisons: Sequence[Comparison]) -> str:
    rows = []
    for i, c in enumerate(comparisons):
        t = c.test
        cls = ""
        if t.p_value < SIGNIFICANCE and (t.ci_low > 0 or t.ci_high < 0):
            cls = ' class="up"' if t.mean_diff > 0 else ' class="down"'
        # One name cell spans each run's rows: repeating it squeezes the numbers.
        name = ""
        if i == 0 or comparisons[i - 1].run != c.run:
            span = sum(1 for other in comparisons[i:] if other.run == c.run)
            name = f'<td class="name" rowspan="{span}">{_e(c.run)}</td>'
        rows.append(
            f'<tr>{name}<td class="metric">{_e(c.metric)}</td>'
            f"<td>{t.mean_a:.3f}</td><td>{t.mean_b:.3f}</td>"
            f"<td><span{cls}>{_fmt_diff(t.mean_diff)}</span></td>"
            f"<td>{_fmt_diff(t.ci_low)} … {_fmt_diff(t.ci_high)}</td>"
            f"<td>{_fmt_p(t.p_value)}</td><td>{_fmt_p(t.wilcoxon_p)}</td>"
            f"<td>{t.n_differ} / {t.n}</td></tr>"
        )
    return (
        '<div class="scroll"><table class="compare"><thead><tr><th>run</th><th>metric</th>'
        "<th>baseline mean</th><th>run mean</th><th>Δ</th><th>95% CI of Δ</th>"
        "<th>p (sign‑flip)</th><th>p (Wilcoxon)</th><th>queries differing</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _short(label: str) -> str:
    """The last path component of a label: what tells results apart in a narrow caption."""
    tail = label.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    return tail or label


def _query_block(
    position: int,
    qid: str,
    rr: RunReport,
    row: Mapping[str, float],
    thumbs: _Thumbnails,
) -> str:
    judged = rr.qrels.get(qid, {})
    text = rr.queries.get(qid, "")
    text_html = (
        f'<div class="qtext">{_e(text)}</div>'
        if text
        else '<div class="qtext none">(no query text)</div>'
    )
    first = row["median_rank"]
    first_text = "not retrieved" if math.isinf(first) else f"{first:g}"
    stats = (
        f"<dt>AP</dt><dd>{row['map']:.3f}</dd>"
        f"<dt>recall@10</dt><dd>{row['recall@10']:.3f}</dd>"
        f"<dt>first relevant</dt><dd>{_e(first_text)}</dd>"
        f"<dt>relevant judged</dt><dd>{_num_relevant(judged)}</dd>"
    )
    tiles = []
    for rank, (docid, _score) in enumerate(ranking_order(rr.run.get(qid, {}))[:TOP_SHOWN], 1):
        label = rr.doc_labels.get(docid, docid)
        relevant = judged.get(docid, 0) >= RELEVANCE_THRESHOLD
        thumb = thumbs.get(docid)
        if thumb is not None:
            inner = (
                f'<img src="{_e(thumb.src)}" width="{thumb.width}" height="{thumb.height}" '
                f'alt="{_e(label)}">'
            )
        else:
            inner = f'<div class="text">{_e(label)}</div>'
        mark = "✓ relevant" if relevant else "not relevant"
        tiles.append(
            f'<div class="tile{" rel" if relevant else ""}" title="{_e(label)}">'
            f'<div class="box">{inner}</div>'
            f'<div class="cap">{rank}.\u00a0{_e(_short(label))}</div>'
            f'<div class="mark">{mark}</div></div>'
        )
    results = "".join(tiles) if tiles else '<span class="empty">no results retrieved</span>'
    return (
        '<div class="query"><div>'
        f'<div class="qhead">#{position} · query <b>{_e(qid)}</b></div>{text_html}'
        f'<dl class="stats">{stats}</dl></div>'
        f'<div class="results">{results}</div></div>'
    )


def _page(
    title: str,
    runs: Sequence[RunReport],
    summaries: Sequence[Sequence[MetricSummary]],
    comparisons: Sequence[Comparison],
    hardest: Sequence[Sequence[str]],
    tables: Sequence[Mapping[str, Mapping[str, float]]],
    thumbs: _Thumbnails,
    max_k: int,
    generated: str,
) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{len(runs)} run{"s" if len(runs) != 1 else ""} · '
        f"generated {_e(generated)}</p>",
        "<h2>Metrics</h2>",
        _metric_table(runs, summaries),
        f'<p class="note">Mean over evaluated queries, with a {CONFIDENCE:.0%} percentile '
        f"bootstrap interval ({BOOTSTRAP_RESAMPLES} resamples of queries). median_rank is the "
        "median rank of the first relevant result (∞ when at least half the queries find "
        "nothing)."
        + (" Bold marks the best run on each metric." if len(runs) > 1 else "")
        + "</p>",
    ]
    if len(runs) > 1:
        parts += [
            f"<h2>Compared with {_e(runs[0].name)}</h2>",
            _comparison_table(comparisons)
            if comparisons
            else '<p class="empty">No query was evaluated by the baseline and another run.</p>',
            '<p class="note">Δ is run minus baseline over the queries both evaluated, with a '
            f"{CONFIDENCE:.0%} bootstrap interval; p-values are two-sided: a paired sign-flip "
            f"randomisation test ({PERMUTATION_RESAMPLES} permutations, exact for few "
            "differing queries) and the Wilcoxon signed-rank test. Coloured Δ: p &lt; "
            f"{SIGNIFICANCE} and the interval excludes 0. p-values are not corrected for "
            "multiple comparisons.</p>",
        ]
    parts += [
        "<h2>Curves</h2>",
        '<div class="plots">',
        f'<figure><img src="{RECALL_PLOT}" alt="mean recall at k for k from 1 to {max_k}">'
        f"<figcaption>Mean recall@k, k = 1…{max_k}; markers at the evaluated cutoffs."
        "</figcaption></figure>",
        f'<figure><img src="{PR_PLOT}" alt="11-point interpolated precision-recall curve">'
        "<figcaption>Interpolated precision at 11 recall levels (trec_eval "
        "iprec_at_recall), mean over queries.</figcaption></figure>",
        "</div>",
    ]
    if any(hardest):
        parts.append("<h2>Hardest queries</h2>")
        parts.append(
            '<p class="note">Lowest average precision first, ties by recall@10. Each row '
            f"shows the top {TOP_SHOWN} results; relevant ones have a green border.</p>"
        )
        for rr, qids, table in zip(runs, hardest, tables, strict=True):
            if not qids:
                continue
            parts.append(f"<h3>{_e(rr.name)}</h3>")
            parts += [_query_block(i, qid, rr, table[qid], thumbs) for i, qid in enumerate(qids, 1)]
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


# --- json ------------------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    """JSON has no infinity: non-finite numbers become null (see the summary's note)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _summary_json(
    title: str,
    generated: str,
    runs: Sequence[RunReport],
    summaries: Sequence[Sequence[MetricSummary]],
    comparisons: Sequence[Comparison],
    recall: Sequence[FloatArray],
    iprec: Sequence[FloatArray],
    hardest: Sequence[Sequence[str]],
) -> dict[str, Any]:
    return {
        "title": title,
        "generated": generated,
        "note": "null stands for an infinite or undefined value (e.g. median_rank when "
        "at least half the queries retrieve nothing relevant)",
        "confidence": CONFIDENCE,
        "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
        "permutation_resamples": PERMUTATION_RESAMPLES,
        "runs": [
            {
                "name": rr.name,
                "num_queries": rr.result.num_queries,
                "metrics": {
                    s.metric: {"value": _num(s.value), "low": _num(s.low), "high": _num(s.high)}
                    for s in sums
                },
                "recall_at_k": [_num(v) for v in rec],
                "interpolated_precision": {
                    f"{level:.1f}": _num(v) for level, v in zip(RECALL_LEVELS, ip, strict=True)
                },
                "hardest_queries": list(qids),
            }
            for rr, sums, rec, ip, qids in zip(runs, summaries, recall, iprec, hardest, strict=True)
        ],
        "comparisons": [
            {
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
            for c in comparisons
        ],
    }


# --- entry point -----------------------------------------------------------------------


def _check_runs(runs: Sequence[RunReport], worst_n: int, max_k: int | None) -> None:
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


def write_report(
    out_dir: Path,
    runs: Sequence[RunReport],
    *,
    title: str,
    thumbnails: Callable[[str], Path | None] | None = None,
    worst_n: int = 10,
    max_k: int | None = None,
) -> Path:
    """Write the report for ``runs`` into ``out_dir`` (created if needed); returns index.html.

    The first run is the baseline the others are compared with. ``thumbnails`` maps a
    document id to an image file to show for it (or None for a text tile with its label);
    unreadable images also fall back to the label. ``worst_n`` hardest queries are shown
    per run. The recall@k curve runs to ``max_k``, by default the deepest ranking any run
    returned, capped at ``MAX_CURVE_K``. Run names must be distinct.
    """
    _check_runs(runs, worst_n, max_k)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    depth = max_k if max_k is not None else _default_max_k(runs)
    tables = [_per_query_table(rr) for rr in runs]
    metrics = _main_metrics([rr.result for rr in runs])
    summaries = [_summaries(rr, metrics) for rr in runs]
    comparisons: list[Comparison] = []
    for rr, table in zip(runs[1:], tables[1:], strict=True):
        comparisons += _compare(runs[0], tables[0], rr, table)
    recall = [recall_curve(rr.qrels, rr.run, rr.result.per_query, depth) for rr in runs]
    iprec = [interpolated_precision(rr.qrels, rr.run, rr.result.per_query) for rr in runs]
    hardest = [_hardest(table, worst_n) for table in tables]
    marks = sorted(set().union(*(rr.result.ks for rr in runs)))

    _draw_plots(out_dir, [rr.name for rr in runs], recall, iprec, marks)
    thumbs = _Thumbnails(out_dir, thumbnails)
    page = _page(title, runs, summaries, comparisons, hardest, tables, thumbs, depth, generated)
    summary = _summary_json(title, generated, runs, summaries, comparisons, recall, iprec, hardest)
    atomic_write_bytes(
        out_dir / "summary.json",
        (json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode(),
    )
    index = out_dir / "index.html"
    atomic_write_bytes(index, page.encode("utf-8"))
    return index
