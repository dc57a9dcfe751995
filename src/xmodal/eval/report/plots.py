"""The report's figures, drawn on matplotlib's Agg canvas.

``Figure`` + ``FigureCanvasAgg`` need no backend selection, so writing a report leaves
pyplot's global backend alone.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.atomic import atomic_write_bytes
from xmodal.eval.curves import RECALL_LEVELS, FloatArray
from xmodal.eval.report.data import ReportData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RECALL_PLOT = "recall_at_k.png"
PR_PLOT = "precision_recall.png"

_COLORS = [f"C{i}" for i in range(10)]
_STYLES = ["-", "--", ":", "-."]


def _legend_label(name: str) -> str:
    # matplotlib hides labels starting with "_" and reads "$...$" as mathtext
    label = name if len(name) <= 40 else name[:39] + "…"
    label = label.replace("$", r"\$")
    return "\u200b" + label if label.startswith("_") else label


def _styled(i: int) -> dict[str, Any]:
    # colour cycles first, then the line style, so 11+ runs stay distinguishable
    return {"color": _COLORS[i % 10], "linestyle": _STYLES[(i // 10) % 4], "linewidth": 2}


def _new_axes(xlabel: str, ylabel: str, title: str) -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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


def _save(fig: Figure, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    atomic_write_bytes(path, buf.getvalue())


def _recall_plot(
    path: Path, names: Sequence[str], recall: Sequence[FloatArray], marks: Sequence[int]
) -> None:
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    max_k = len(recall[0])
    ks = np.arange(1, max_k + 1)
    fig, ax = _new_axes("k (results inspected)", "mean recall@k", "Recall at depth k")
    mark_idx = [k - 1 for k in marks if 1 <= k <= max_k]
    for i, (name, curve) in enumerate(zip(names, recall, strict=True)):
        ax.plot(
            ks,
            curve,
            label=_legend_label(name),
            marker="o",
            markersize=4,
            markevery=mark_idx or None,
            **_styled(i),
        )
    if max_k >= 20:
        ax.set_xscale("log")
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= max_k]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(1, max_k)
    ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    _save(fig, path)


def _pr_plot(path: Path, names: Sequence[str], iprec: Sequence[FloatArray]) -> None:
    fig, ax = _new_axes("recall", "interpolated precision", "Precision-recall (11-point)")
    for i, (name, curve) in enumerate(zip(names, iprec, strict=True)):
        ax.plot(
            RECALL_LEVELS, curve, label=_legend_label(name), marker="o", markersize=4, **_styled(i)
        )
    ax.set_xlim(0.0, 1.0)
    ax.set_xticks(RECALL_LEVELS)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
    _save(fig, path)


def draw_plots(out_dir: Path, data: ReportData) -> None:
    """Write ``RECALL_PLOT`` and ``PR_PLOT`` into ``out_dir``, one line per run."""
    names = [run.report.name for run in data.runs]
    _recall_plot(out_dir / RECALL_PLOT, names, [run.recall for run in data.runs], data.marks)
    _pr_plot(out_dir / PR_PLOT, names, [run.iprec for run in data.runs])
