"""Zero-shot tagging: every item scored against a label set in every space that embeds words.

The calibration rule. A raw cosine means different things in different spaces and for
different labels (a broad label such as "object" scores high on everything), so no flat
threshold works. In each space the item-by-label score matrix is standardised per label over
the collection: ``z = (score - mean) / std`` says how much more this item is about the label
than the collection's typical item. An item's z for a label is the mean over the spaces that
hold a vector of it. A label becomes a tag when its z is at least ``cutoff`` *and* within
``margin`` of the item's best label, so a tag stands out from the collection and is not far
behind the item's best answer. A collection of fewer than ``MIN_CALIBRATION`` items is too
small to learn a label's typical score from; there, scores are standardised over each item's
labels instead. Tags are kept in the item's metadata under ``tags``, best first, with their z
under ``tag_scores``; tagging again replaces both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xmodal.apply.labels import LabelSet
from xmodal.apply.vectors import item_vectors, space_encoder, text_spaces
from xmodal.encoders.base import l2_normalize
from xmodal.errors import UsageError
from xmodal.progress import ProgressFactory, start_progress
from xmodal.store.lock import WriteLock
from xmodal.store.metadata import merge_metadata
from xmodal.store.sqlite import Store

#: a tag's score must stand this many standard deviations above the label's typical score
CUTOFF = 1.0
#: ... and be at most this far below the item's best label
MARGIN = 0.75
#: below this many items, scores are standardised per item instead of per label
MIN_CALIBRATION = 8
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class ItemTags:
    id: str
    path: str
    tags: list[str]
    #: the calibrated score of every tag, and of the best label even when it is no tag
    scores: dict[str, float] = field(default_factory=dict)
    best: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "tags": self.tags}


@dataclass(frozen=True, slots=True)
class TagReport:
    labels: LabelSet
    spaces: list[str]
    items: list[ItemTags]

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": self.labels.name,
            "spaces": self.spaces,
            "items": [t.to_json() for t in self.items],
        }


def standardise(scores: np.ndarray) -> np.ndarray:
    """The calibrated scores of an items-by-labels matrix (see the module's rule)."""
    axis = 0 if scores.shape[0] >= MIN_CALIBRATION else 1
    mean = scores.mean(axis=axis, keepdims=True)
    std = scores.std(axis=axis, keepdims=True)
    return np.asarray((scores - mean) / np.maximum(std, _EPS), dtype=np.float32)


def choose_tags(z: np.ndarray, cutoff: float = CUTOFF, margin: float = MARGIN) -> list[int]:
    """The labels (indices, best first) one item's calibrated scores ``z`` make tags."""
    best = float(z.max())
    order = np.argsort(-z, kind="stable")
    return [int(j) for j in order if z[j] >= cutoff and z[j] >= best - margin]


def label_matrix(labels: LabelSet, encode: Any) -> np.ndarray:
    """One unit vector per label: the mean of its prompts' query vectors."""
    flat = [p for prompts in labels.prompts for p in prompts]
    vecs = np.asarray(encode(flat, role="query"), dtype=np.float32)
    out, at = [], 0
    for prompts in labels.prompts:
        out.append(vecs[at : at + len(prompts)].mean(axis=0))
        at += len(prompts)
    return l2_normalize(np.stack(out))


def calibrated_scores(
    store: Store, labels: LabelSet, progress: ProgressFactory | None = None
) -> tuple[list[str], np.ndarray, list[str]]:
    """(item ids, their calibrated items-by-labels scores, the spaces that took part)."""
    records = text_spaces(store)
    if not records:
        raise UsageError(
            "no space of this collection embeds words, so none can score labels; "
            "index it with a text or joint model (for example --model emoji-small or minilm)"
        )
    bar = start_progress(progress, len(records))
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    try:
        for record in records:
            enc = space_encoder(record)
            vecs = item_vectors(store, record)
            if vecs.item_ids:
                z = standardise(vecs.matrix @ label_matrix(labels, enc.encode_texts).T)
                for n, item in enumerate(vecs.item_ids):
                    sums[item] = sums.get(item, 0) + z[n]
                    counts[item] = counts.get(item, 0) + 1
            bar.update(1)
    finally:
        bar.close()
    ids = sorted(sums)
    width = len(labels.labels)
    mat = np.stack([sums[i] / counts[i] for i in ids]) if ids else np.zeros((0, width))
    return ids, mat.astype(np.float32), [r.name for r in records]


def tag_collection(
    store: Store,
    labels: LabelSet,
    *,
    cutoff: float = CUTOFF,
    margin: float = MARGIN,
    save: bool = True,
    wait: float = 0.0,
    progress: ProgressFactory | None = None,
) -> TagReport:
    """Tag every item of ``store`` with ``labels``; with ``save`` the tags go into each
    item's metadata (``tags``, ``tag_scores``) in one transaction."""
    ids, z, spaces = calibrated_scores(store, labels, progress)
    paths = {i: p for p, i in store.ids().items()}
    out: list[ItemTags] = []
    for n, item in enumerate(ids):
        if item not in paths:
            continue
        chosen = choose_tags(z[n], cutoff, margin)
        top = int(np.argmax(z[n]))
        scores = {labels.labels[j]: round(float(z[n, j]), 4) for j in {*chosen, top}}
        tags = [labels.labels[j] for j in chosen]
        out.append(ItemTags(item, paths[item], tags, scores, labels.labels[top]))
    out.sort(key=lambda t: t.path)
    if save:
        with WriteLock(store.root, wait=wait):
            merge_metadata(store, {t.id: {"tags": t.tags, "tag_scores": t.scores} for t in out})
    return TagReport(labels, spaces, out)
