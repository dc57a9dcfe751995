"""The vectors a collection holds, by item: what tagging, duplicates, more-like-this and
policy flags compare. One vector per item and space: the unit mean of its segments' vectors
(an image has one segment; a document's passages average into what it is about)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xmodal.encoders.base import Encoder, l2_normalize
from xmodal.encoders.registry import get_encoder, info
from xmodal.records import Modality
from xmodal.spaces.base import checked_encoder
from xmodal.store.metadata import segment_items
from xmodal.store.snapshot import load_space
from xmodal.store.sqlite import SpaceRecord, Store


@dataclass(frozen=True, slots=True)
class ItemVectors:
    """One space's item vectors: row ``n`` of ``matrix`` belongs to ``item_ids[n]``."""

    space: str
    item_ids: list[str]
    matrix: np.ndarray

    def row(self, item_id: str) -> int | None:
        try:
            return self.item_ids.index(item_id)
        except ValueError:
            return None


def vector_spaces(store: Store) -> list[SpaceRecord]:
    """The collection's spaces that hold vectors (keyword spaces hold none), by name."""
    return [r for _, r in sorted(store.spaces().items()) if info(r.name).space == "vector"]


def text_spaces(store: Store) -> list[SpaceRecord]:
    """The vector spaces whose encoder embeds words (and so can embed a label)."""
    return [r for r in vector_spaces(store) if Modality.TEXT in r.spec.modalities]


def space_encoder(record: SpaceRecord) -> Encoder:
    """The encoder of ``record``, loaded and checked against the recorded fingerprint."""
    return checked_encoder(record, get_encoder(record.name))


def item_vectors(store: Store, record: SpaceRecord) -> ItemVectors:
    """Every item's vector in the space of ``record`` (items without one are absent)."""
    seg_ids, vecs = load_space(store, record.name, record.dim)
    owner = segment_items(store)
    rows: dict[str, list[int]] = {}
    for n, sid in enumerate(seg_ids.tolist()):
        if (found := owner.get(int(sid))) is not None:
            rows.setdefault(found[0], []).append(n)
    ids = sorted(rows)
    if not ids:
        return ItemVectors(record.name, [], np.zeros((0, record.dim), dtype=np.float32))
    mat = np.stack([vecs[rows[i]].mean(axis=0) for i in ids]).astype(np.float32)
    return ItemVectors(record.name, ids, l2_normalize(mat))


@dataclass(frozen=True, slots=True)
class SegmentVectors:
    """One space's segment vectors: row ``n`` is segment ``ordinals[n]`` of ``item_ids[n]``."""

    space: str
    item_ids: list[str]
    ordinals: list[int]
    matrix: np.ndarray


def segment_vectors(store: Store, record: SpaceRecord) -> SegmentVectors:
    seg_ids, vecs = load_space(store, record.name, record.dim)
    owner = segment_items(store)
    keep = [n for n, sid in enumerate(seg_ids.tolist()) if int(sid) in owner]
    refs = [owner[int(seg_ids[n])] for n in keep]
    return SegmentVectors(
        record.name, [r[0] for r in refs], [r[1] for r in refs], vecs[keep].astype(np.float32)
    )
