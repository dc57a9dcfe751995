"""The reliability diagram of calibrated relevance: predicted probability against the share
of hits that were relevant, one line per space, the diagonal being perfect calibration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from xmodal.eval.report.plots import _legend_label, _new_axes, _save, _styled

RELIABILITY_PLOT = "reliability.png"


def reliability_bins(
    probs: np.ndarray, labels: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of predicted probability: mean prediction, share relevant, count
    (empty bins left out)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    mean_p, share, count = [], [], []
    for b in range(bins):
        sel = which == b
        if sel.any():
            mean_p.append(float(probs[sel].mean()))
            share.append(float(labels[sel].mean()))
            count.append(int(sel.sum()))
    return np.array(mean_p), np.array(share), np.array(count)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE: the count-weighted mean gap between predicted probability and observed share."""
    if len(probs) == 0:
        return float("nan")
    mean_p, share, count = reliability_bins(probs, labels, bins)
    return float(np.sum(count * np.abs(mean_p - share)) / np.sum(count))


def draw_reliability(
    path: Path, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str = ""
) -> Path:
    """Write the diagram of ``{name: (probabilities, 0/1 labels)}`` to ``path``."""
    fig, ax = _new_axes(
        "predicted probability of relevance", "share relevant", title or "Reliability"
    )
    ax.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle=":", label="perfect")
    for i, (name, (probs, labels)) in enumerate(curves.items()):
        mean_p, share, _ = reliability_bins(probs, labels)
        ece = expected_calibration_error(probs, labels)
        label = _legend_label(f"{name} (ECE {ece:.3f})")
        ax.plot(mean_p, share, marker="o", markersize=4, label=label, **_styled(i))
    ax.set_xlim(0.0, 1.0)
    ax.legend(loc="upper left", fontsize=9, framealpha=0.9)
    _save(fig, path)
    return path
