"""Writing a report: numbers first, then plots and thumbnails, the page last."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from xmodal.atomic import atomic_write_bytes
from xmodal.eval.report.data import RunReport, check_runs, collect
from xmodal.eval.report.html import render_page
from xmodal.eval.report.plots import draw_plots
from xmodal.eval.report.reliability import RELIABILITY_PLOT, draw_reliability
from xmodal.eval.report.summary import summary_json
from xmodal.eval.report.thumbs import Thumbnails


def write_report(
    out_dir: Path,
    runs: Sequence[RunReport],
    *,
    title: str,
    thumbnails: Callable[[str], Path | None] | None = None,
    worst_n: int = 10,
    max_k: int | None = None,
    reliability: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Path:
    """Write the report for ``runs`` into ``out_dir`` (created if needed); returns index.html.

    The first run is the baseline the others are compared with. ``thumbnails`` maps a
    document id to an image file to show for it (or None for a text tile with its label);
    unreadable images also fall back to the label. ``worst_n`` hardest queries are shown
    per run. The recall@k curve runs to ``max_k``, by default the deepest ranking any run
    returned, capped at ``MAX_CURVE_K``. Run names must be distinct. ``reliability``
    (``{space: (probabilities, 0/1 labels)}`` of calibrated spaces) adds the reliability
    diagram.
    """
    check_runs(runs, worst_n, max_k)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    data = collect(runs, title=title, generated=generated, worst_n=worst_n, max_k=max_k)

    draw_plots(out_dir, data)
    calibrated = None
    if reliability:
        draw_reliability(out_dir / RELIABILITY_PLOT, reliability)
        calibrated = RELIABILITY_PLOT
    page = render_page(data, Thumbnails(out_dir, thumbnails), reliability_plot=calibrated)
    summary = summary_json(data)
    atomic_write_bytes(
        out_dir / "summary.json",
        (json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode(),
    )
    index = out_dir / "index.html"
    atomic_write_bytes(index, page.encode("utf-8"))
    return index
