"""Zero-shot tagging measured on the OpenMoji concept split: groups as labels.

Prepare and index a split first (the concepts of ``test`` were never trained on):

    xmodal bench prepare openmoji --split test --out om/test
    xmodal index om/test/images --db om/db-test --model emoji-small
    python benchmarks/tagging.py --data om/test --db om/db-test

Each drawing's true label is its OpenMoji group (``items.json``). Reported: top-1 accuracy and
macro-F1 of the best calibrated label, the same for the raw cosine (no calibration), and the
precision / recall / F1 of the stored tags (a tag is right when it is the item's group).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from _common import facts_markdown, machine_facts, md_table
from xmodal.apply.labels import LabelSet, load_labels
from xmodal.apply.tagging import calibrated_scores, choose_tags, label_matrix
from xmodal.apply.vectors import item_vectors, space_encoder, text_spaces
from xmodal.collection import Collection


def truth(data: str, ids: dict[str, str]) -> dict[str, str]:
    with open(os.path.join(data, "items.json"), encoding="utf-8") as f:
        items = json.load(f)
    return {ids[os.path.join(os.path.abspath(data), it["image"])]: it["group"] for it in items}


def raw_top(col: Collection, labels: LabelSet) -> dict[str, int]:
    """The label of highest raw cosine, per item, in the first space that embeds words."""
    record = text_spaces(col.store)[0]
    vecs = item_vectors(col.store, record)
    sims = vecs.matrix @ label_matrix(labels, space_encoder(record).encode_texts).T
    return {i: int(np.argmax(sims[n])) for n, i in enumerate(vecs.item_ids)}


def measure(data: str, db: str, label_set: str) -> dict[str, float]:
    labels = load_labels(label_set)
    with Collection.open(db, create=False) as col:
        gold = truth(data, col.ids())
        ids, z, _ = calibrated_scores(col.store, labels)
        raw = raw_top(col, labels)
    keep = [n for n, i in enumerate(ids) if gold.get(i) in labels.labels]
    y = [gold[ids[n]] for n in keep]
    top = [labels.labels[int(np.argmax(z[n]))] for n in keep]
    raw_pred = [labels.labels[raw[ids[n]]] for n in keep]
    tp = n_tags = 0
    for n in keep:
        tags = [labels.labels[j] for j in choose_tags(z[n])]
        n_tags += len(tags)
        tp += gold[ids[n]] in tags
    precision = tp / max(n_tags, 1)
    recall = tp / len(keep)
    return {
        "items": len(keep),
        "accuracy": accuracy_score(y, top),
        "macro_f1": f1_score(y, top, average="macro", zero_division=0),
        "raw_accuracy": accuracy_score(y, raw_pred),
        "raw_macro_f1": f1_score(y, raw_pred, average="macro", zero_division=0),
        "tag_precision": precision,
        "tag_recall": recall,
        "tag_f1": 2 * precision * recall / max(precision + recall, 1e-9),
        "tags_per_item": n_tags / len(keep),
        "chance": 1 / len({*y}),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", action="append", required=True, help="a prepared openmoji split")
    ap.add_argument("--db", action="append", required=True, help="its collection (same order)")
    ap.add_argument("--labels", default="openmoji-groups", help="label set (default groups)")
    args = ap.parse_args()
    rows = []
    for data, db in zip(args.data, args.db, strict=True):
        m = measure(data, db, args.labels)
        rows.append(
            [os.path.basename(data.rstrip("/")), m["items"]]
            + [
                f"{m[k]:.3f}"
                for k in (
                    "accuracy",
                    "macro_f1",
                    "raw_accuracy",
                    "raw_macro_f1",
                    "tag_precision",
                    "tag_recall",
                    "tag_f1",
                    "tags_per_item",
                    "chance",
                )
            ]
        )
    print(facts_markdown(machine_facts()))
    print()
    print(
        md_table(
            [
                "split",
                "items",
                "accuracy",
                "macro-F1",
                "raw acc.",
                "raw macro-F1",
                "tag P",
                "tag R",
                "tag F1",
                "tags/item",
                "chance",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
