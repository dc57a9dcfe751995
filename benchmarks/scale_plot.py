"""Recall@10 against p50 latency of one query, from the JSON lines benchmarks/scale.py and
benchmarks/scale_compressed.py write (``--out``): one curve per index and size.

    python benchmarks/scale_plot.py /work/scale-cache/1m.jsonl /work/scale-cache/10m.jsonl \
        --png docs/img/scale-recall-latency.png
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def curves(paths: list[str]) -> list[tuple[str, list[float], list[float], list[str]]]:
    out = []
    for path in paths:
        with open(path) as f:
            rows: list[dict[str, Any]] = [json.loads(line) for line in f if line.strip()]
        for row in rows:
            kind = row.get("kind", "ivfpq float16")
            label = f"{kind}, {row['n'] / 1e6:g}M"
            points = row["sweep"]
            xs = [float(p["p50_ms"]) for p in points]
            ys = [float(p["recall@10"]) for p in points]
            names = [
                str(
                    p.get("setting")
                    or f"nprobe={p['nprobe']} rerank={p.get('rerank', row['params']['rerank'])}"
                )
                for p in points
            ]
            out.append((label, xs, ys, names))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("jsonl", nargs="+")
    ap.add_argument("--png", required=True)
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, xs, ys, names in curves(args.jsonl):
        # HNSW has one knob (a curve); IVF-PQ two (nprobe x re-ranking: points)
        ax.plot(xs, ys, marker="o", ls="-" if label.startswith("hnsw") else "none", label=label)
        for x, y, name in zip(xs, ys, names, strict=True):
            short = name.replace("nprobe=", "p").replace("rerank=", "r").replace(" ", "/")
            ax.annotate(short, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.axhline(0.95, color="grey", lw=0.8, ls="--")
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency of one query (ms, log scale)")
    ax.set_ylabel("recall@10 against exact")
    ax.set_title("Approximate indexes on 512-d clustered vectors, 2 shared cores")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.png, dpi=120)


if __name__ == "__main__":
    main()
