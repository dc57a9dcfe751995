"""Near-duplicates: exact copies, near-copies and semantic duplicates, grouped.

Three kinds of evidence link two items, and a group is a set of items joined by any chain of
links (so a resized copy of a copy joins both):

- **exact**: the same content hash (the file's bytes and its sidecars);
- **near**: perceptual hashes (pHash, 64 bits, of the decoded pixels) at most ``max_distance``
  bits apart, which survives resizing, recompression and a small crop;
- **semantic**: item vectors with a cosine of at least ``threshold`` in a space that embeds
  the items' own modality (pixels for pictures, words for documents), so two photographs
  are not joined just because their captions agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import imagehash
import numpy as np
from PIL import Image

from xmodal.apply.images import read_images
from xmodal.apply.settings import MAX_DISTANCE, THRESHOLD
from xmodal.apply.vectors import item_vectors, vector_spaces
from xmodal.media.limits import DecodeLimits
from xmodal.progress import ProgressFactory
from xmodal.records import Item, Modality, Skipped
from xmodal.store.sqlite import Store

#: pixels are hashed from a copy no larger than this (pHash looks at 32 x 32)
_HASH_SIDE = 256
_CHUNK = 1024


@dataclass(frozen=True, slots=True)
class DupeGroup:
    """Items joined by links; ``kinds`` are the kinds of link found among them."""

    items: list[Item]
    kinds: list[str]
    #: the closest link's similarity: 1.0 for exact copies, else cosine or 1 - bits/64
    similarity: float

    @property
    def paths(self) -> list[str]:
        return [it.path for it in self.items]


@dataclass(slots=True)
class DupeReport:
    groups: list[DupeGroup]
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "groups": [g.paths for g in self.groups],
            "details": [
                {"paths": g.paths, "kinds": g.kinds, "similarity": round(g.similarity, 4)}
                for g in self.groups
            ],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


@dataclass(frozen=True, slots=True)
class Link:
    a: str
    b: str
    kind: str
    similarity: float


def exact_links(items: Sequence[Item]) -> list[Link]:
    first: dict[str, str] = {}
    links = []
    for it in items:
        if it.content_hash in first:
            links.append(Link(first[it.content_hash], it.id, "exact", 1.0))
        else:
            first[it.content_hash] = it.id
    return links


def pixel_hashes(
    items: Sequence[Item], progress: ProgressFactory | None = None
) -> tuple[dict[str, int], list[Skipped]]:
    """``{item id: 64-bit pHash}`` of the image items, and the files that did not decode."""
    images = [it for it in items if it.modality is Modality.IMAGE]
    return read_images(images, _phash, DecodeLimits(max_side=_HASH_SIDE), progress)


def _phash(rgb: Image.Image) -> int:
    bits = imagehash.phash(rgb).hash.ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def near_links(hashes: dict[str, int], max_distance: int = MAX_DISTANCE) -> list[Link]:
    ids = sorted(hashes)
    codes = np.array([hashes[i] for i in ids], dtype=np.uint64)
    links = []
    for start in range(0, len(ids), _CHUNK):
        block = codes[start : start + _CHUNK]
        dist = np.bitwise_count(block[:, None] ^ codes[None, :])
        for r, c in zip(*np.nonzero(dist <= max_distance), strict=True):
            a, b = start + int(r), int(c)
            if a < b:
                links.append(Link(ids[a], ids[b], "near", 1.0 - float(dist[r, c]) / 64))
    return links


def semantic_links(store: Store, items: Sequence[Item], threshold: float = THRESHOLD) -> list[Link]:
    modality = {it.id: it.modality for it in items}
    links = []
    for record in vector_spaces(store):
        vecs = item_vectors(store, record)
        keep = [n for n, i in enumerate(vecs.item_ids) if modality.get(i) in record.spec.modalities]
        ids = [vecs.item_ids[n] for n in keep]
        mat = vecs.matrix[keep]
        for start in range(0, len(ids), _CHUNK):
            sims = mat[start : start + _CHUNK] @ mat.T
            for r, c in zip(*np.nonzero(sims >= threshold), strict=True):
                a, b = start + int(r), int(c)
                if a < b and modality[ids[a]] is modality[ids[b]]:
                    links.append(Link(ids[a], ids[b], f"semantic:{record.name}", float(sims[r, c])))
    return links


def group_links(items: Sequence[Item], links: Iterable[Link]) -> list[DupeGroup]:
    """Connected components of two or more items, largest first, then by first path."""
    parent = {it.id: it.id for it in items}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_root_links: list[Link] = [lk for lk in links if lk.a in parent and lk.b in parent]
    for lk in by_root_links:
        ra, rb = find(lk.a), find(lk.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[str, list[Item]] = {}
    for it in items:
        members.setdefault(find(it.id), []).append(it)
    kinds: dict[str, set[str]] = {}
    best: dict[str, float] = {}
    for lk in by_root_links:
        root = find(lk.a)
        kinds.setdefault(root, set()).add(lk.kind)
        best[root] = max(best.get(root, 0.0), lk.similarity)
    groups = [
        DupeGroup(sorted(m, key=lambda it: it.path), sorted(kinds[r]), best[r])
        for r, m in members.items()
        if len(m) > 1
    ]
    return sorted(groups, key=lambda g: (-len(g.items), g.paths[0]))


def find_duplicates(
    store: Store,
    *,
    threshold: float | None = THRESHOLD,
    max_distance: int | None = MAX_DISTANCE,
    progress: ProgressFactory | None = None,
) -> DupeReport:
    """Groups of duplicates among the items of ``store``; ``threshold`` or ``max_distance``
    None turns that kind of link off (exact copies are always found)."""
    items = list(store.iter_items())
    links = exact_links(items)
    skipped: list[Skipped] = []
    if max_distance is not None:
        hashes, skipped = pixel_hashes(items, progress)
        links += near_links(hashes, max_distance)
    if threshold is not None:
        links += semantic_links(store, items, threshold)
    return DupeReport(group_links(items, links), skipped)


def group_sheets(groups: Sequence[DupeGroup], out_dir: str) -> list[str]:
    """One contact sheet per group, ``group-001.png`` and on, in ``out_dir``."""
    import os

    from xmodal.contact_sheet import SheetRow, draw_sheet
    from xmodal.records import SearchHit

    os.makedirs(out_dir, exist_ok=True)
    written = []
    for n, g in enumerate(groups, start=1):
        hits = [
            SearchHit(it.id, it.path, g.similarity, it.modality, text=it.text) for it in g.items
        ]
        path = os.path.join(out_dir, f"group-{n:03d}.png")
        draw_sheet([SheetRow(hits)], path)
        written.append(path)
    return written
