"""Training curves: loss and validation recall per epoch, as a PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CURVES_FILE = "curves.png"


def plot_curves(history: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """Training loss and validation recall per epoch, as a PNG (drawn on its own canvas, so
    the process's matplotlib backend is left alone)."""
    if not history:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from xmodal.learn._io import atomic_write

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_val = fig.subplots(1, 2)
    trained = [h for h in history if h.get("loss") is not None]
    ax_loss.plot([h["epoch"] for h in trained], [h["loss"] for h in trained], marker="o")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("loss")
    ax_loss.grid(alpha=0.3)
    epochs = [h["epoch"] for h in history]
    langs = sorted(k for k in history[-1] if k.startswith("t2i_recall@10_"))
    for key in ("t2i_recall@1", "t2i_recall@5", "t2i_recall@10", "i2t_recall@10", *langs):
        if all(key in h for h in history):
            ax_val.plot(epochs, [h[key] for h in history], marker=".", label=key)
    ax_val.set_xlabel("epoch (0 = the starting weights)")
    ax_val.set_ylabel("validation")
    ax_val.set_title("validation retrieval")
    ax_val.set_ylim(0, 1)
    ax_val.grid(alpha=0.3)
    ax_val.legend(loc="lower right", fontsize=8)
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png")

    return atomic_write(path, write)
