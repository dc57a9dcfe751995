"""Content-policy flags measured on a generated, labelled set of short documents.

    python benchmarks/policy.py --n 200 --plot docs/img/policy-pr.png

Writes ``--n`` violent sentences (weapons and attacks) and as many harmless ones, a third of
which are hard negatives that share the words (a kitchen knife, a water gun, a basketball
shot). Indexes them with ``minilm`` and scores the rule
``weapon: a gun ; a knife ; a weapon ; violence`` on each; sweeps the threshold, prints
precision and recall at a few thresholds and plots the precision/recall curve.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

import numpy as np

from _common import facts_markdown, machine_facts, md_table
from xmodal.apply.policy import concept_scores, parse_policy
from xmodal.collection import Collection

RULE = "weapon: a gun ; a knife ; a weapon ; violence >= 0.3"
WHO = ("the man", "a stranger", "the robber", "an officer", "the soldier", "my neighbour")
BAD = (
    "{w} pulled a gun and shot at {o}",
    "{w} stabbed {o} with a knife",
    "{w} threatened {o} with a pistol",
    "{w} fired a rifle at {o}",
    "{w} attacked {o} with a machete",
    "{w} beat {o} with a baseball bat until he bled",
    "{w} planted a bomb near {o}",
    "{w} aimed the shotgun at {o}",
)
HARD = (
    "{w} cut the onions with a kitchen knife for {o}",
    "{w} sprayed {o} with a water gun at the pool",
    "{w} took a great shot at the basket past {o}",
    "{w} sharpened the bread knife before dinner with {o}",
    "{w} shot a photo of {o} at sunset",
    "{w} bought a glue gun to fix the chair for {o}",
)
GOOD = (
    "{w} planted tomatoes in the garden with {o}",
    "{w} read a book to {o} by the fire",
    "{w} baked a cake for {o}",
    "{w} walked the dog with {o} along the river",
    "{w} painted the fence with {o}",
    "{w} sang a song for {o} at the party",
)


def make_set(root: Path, n: int, seed: int = 0) -> dict[str, bool]:
    rng = random.Random(seed)
    labels: dict[str, bool] = {}
    for k in range(2 * n):
        bad = k < n
        pool = BAD if bad else (HARD if k % 3 == 0 else GOOD)
        text = rng.choice(pool).format(w=rng.choice(WHO), o=rng.choice(WHO)) + "."
        path = root / f"doc{k:04d}.txt"
        path.write_text(text[0].upper() + text[1:] + "\n", encoding="utf-8")
        labels[str(path)] = bad
    return labels


def curve(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(-scores)
    tp = np.cumsum(truth[order])
    precision = tp / np.arange(1, len(order) + 1)
    recall = tp / truth.sum()
    return scores[order], precision, recall


def plot(
    path: str, precision: np.ndarray, recall: np.ndarray, marks: list[tuple[float, float, float]]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot(recall, precision, lw=2)
    for t, p, r in marks:
        ax.plot([r], [p], "o")
        ax.annotate(f"{t:.2f}", (r, p), textcoords="offset points", xytext=(5, -12))
    ax.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1.02),
        ylim=(0, 1.02),
        title="policy rule 'weapon' (minilm), thresholds marked",
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="violent documents (as many harmless)")
    ap.add_argument("--out", default="/tmp/xmodal-policy")
    ap.add_argument("--plot", help="write the precision/recall curve to this PNG")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    (out / "media").mkdir(parents=True)
    labels = make_set(out / "media", args.n)
    rules = parse_policy(RULE)
    with Collection.open(out / "db") as col:
        col.index([out / "media"], models=["minilm"])
        paths = {i: p for p, i in col.ids().items()}
        found = concept_scores(col.store, rules)["weapon"]
    ids = sorted(found)
    scores = np.array([found[i][0] for i in ids])
    truth = np.array([labels[paths[i]] for i in ids], dtype=float)
    _, precision, recall = curve(scores, truth)
    rows, marks = [], []
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        flagged = scores >= t
        tp = float((flagged * truth).sum())
        p, r = tp / max(flagged.sum(), 1), tp / truth.sum()
        rows.append([f"{t:.2f}", int(flagged.sum()), f"{p:.3f}", f"{r:.3f}"])
        if flagged.any():
            marks.append((t, p, r))
    ap_score = float((precision * truth[np.argsort(-scores)]).sum() / truth.sum())
    print(facts_markdown(machine_facts()))
    print(
        f"\n{args.n} violent + {args.n} harmless documents, rule `{RULE}`, model minilm, "
        f"average precision {ap_score:.3f}\n"
    )
    print(md_table(["threshold", "flagged", "precision", "recall"], rows))
    if args.plot:
        plot(args.plot, precision, recall, marks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
