"""The four ratios of ``vs_rclip.py`` (images/s, cold and warm query, peak RSS) for several
runs side by side, against the goals, as one PNG.

    python benchmarks/vs_rclip_plot.py --run third=bench-out/after.json \\
        --figures "first=1.17,1.03,0.65,0.69" --out docs/img/vs-rclip.png

``--run LABEL=FILE`` reads a ``vs_rclip.py --out`` JSON; ``--figures LABEL=A,B,C,D`` takes
the four ratios as recorded in docs/benchmarks.md for runs whose JSON was not kept. Bars
keep the order given, figures first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vs_rclip import extras, ratios

#: (label, goal, higher is better)
METRICS = [
    ("images/s\nxmodal / rclip", 1.5, True),
    ("cold search\nxmodal / rclip", 1.0, False),
    ("warm query\nxmodal / rclip", 0.5, False),
    ("peak RSS\nxmodal / rclip", 1.2, False),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", action="append", default=[], help="LABEL=vs_rclip JSON")
    p.add_argument("--figures", action="append", default=[], help="LABEL=A,B,C,D")
    p.add_argument("--out", required=True, help="PNG to write")
    args = p.parse_args()
    series: list[tuple[str, list[float]]] = []
    more: dict[int, dict[str, float]] = {}
    for item in args.figures:
        label, _, values = item.partition("=")
        series.append((label, [float(v) for v in values.split(",")]))
    for item in args.run:
        label, _, path = item.partition("=")
        raw = json.loads(Path(path).read_text())["raw"]
        more[len(series)] = extras(raw)
        series.append((label, ratios(raw)))
    if not series or any(len(v) != len(METRICS) for _, v in series):
        p.error("give at least one run, each with four ratios")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(12, 4.2))
    for i, (ax, (name, goal, higher)) in enumerate(zip(axes, METRICS, strict=True)):
        values = [v[i] for _, v in series]
        colours = [
            "tab:green" if (v >= goal if higher else v <= goal) else "tab:orange" for v in values
        ]
        ax.bar(range(len(series)), values, color=colours)
        ax.axhline(goal, color="black", linestyle="--", linewidth=1)
        ax.text(len(series) - 0.5, goal, f"goal {goal:g}", va="bottom", ha="right", fontsize=8)
        ax.set_xticks(
            range(len(series)), [s for s, _ in series], fontsize=7, rotation=35, ha="right"
        )
        ax.set_title(name, fontsize=9)
        for j, v in enumerate(values):
            ax.text(j, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
        top = max([*values, goal])
        if i == 0:
            top = _draw_extras(ax, more, top)
        ax.set_ylim(0, top * 1.25)
    fig.suptitle("xmodal #onnx against rclip 3.3.0, same photos and weights (green: goal met)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(args.out)
    return 0


def _draw_extras(ax: Any, more: dict[int, dict[str, float]], top: float) -> float:
    """The float tower's ceiling as a bar outline and int8 indexing as a diamond, on the
    images/s panel; the new top of the panel."""
    labelled = set()
    for j, found in more.items():
        if "ceiling" in found:
            label = None if "ceiling" in labelled else "float tower alone (ceiling)"
            ax.bar(j, found["ceiling"], fill=False, edgecolor="black", linewidth=1, label=label)
            labelled.add("ceiling")
            top = max(top, found["ceiling"])
        if "int8" in found:
            label = None if "int8" in labelled else "index with #onnx-int8"
            ax.plot(j, found["int8"], "D", color="tab:blue", label=label)
            ax.text(j + 0.15, found["int8"], f"{found['int8']:.2f}", fontsize=7, va="center")
            labelled.add("int8")
            top = max(top, found["int8"])
    if labelled:
        ax.legend(fontsize=6, loc="upper left")
    return top


if __name__ == "__main__":
    sys.exit(main())
