"""What a collection holds: its items by modality, its spaces, and whether it is consistent."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmodal.collection import Collection


@dataclass(frozen=True, slots=True)
class SpaceInfo:
    """One space: the encoder (its weights tag) that built it and its dimension."""

    encoder: str
    dim: int
    #: the index the space is searched with now: exact, hnsw, ivfpq, or keyword
    index: str = "exact"


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """A summary of a collection; ``problems`` is ``None`` when consistency was not checked."""

    path: Path
    by_modality: Mapping[str, int]
    spaces: Mapping[str, SpaceInfo]
    problems: tuple[str, ...] | None = None
    #: what the collection is indexed with, in order: encoders and text extractors
    encoders: tuple[str, ...] = ()
    #: the encoders that give no space of their own but read text out of items (``ocr``)
    extractors: tuple[str, ...] = ()
    #: bytes of every file in the collection's folder
    size_bytes: int = 0

    @property
    def ocr(self) -> bool:
        return "ocr" in self.extractors

    @property
    def items(self) -> int:
        return sum(self.by_modality.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "items": self.items,
            "by_modality": dict(self.by_modality),
            "spaces": {
                n: {"encoder": s.encoder, "dim": s.dim, "index": s.index}
                for n, s in self.spaces.items()
            },
            "problems": None if self.problems is None else list(self.problems),
            "encoders": list(self.encoders),
            "extractors": list(self.extractors),
            "ocr": self.ocr,
            "size_bytes": self.size_bytes,
        }


def folder_size(root: Path) -> int:
    """Bytes of the files under ``root``, links not followed; files that vanish meanwhile
    (a snapshot being replaced) are not counted."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def collection_info(col: Collection, check: bool = False) -> CollectionInfo:
    """Count ``col``'s items by modality (in order of first appearance by path), list its
    spaces, the extractors it reads text with (every encoder it records that has no space)
    and its size on disk, and with ``check`` verify that its items, segments and vectors
    agree."""
    counts: dict[str, int] = {}
    for item in col:
        counts[str(item.modality)] = counts.get(str(item.modality), 0) + 1
    spaces = {
        name: SpaceInfo(
            encoder=rec.spec.weights,
            dim=rec.dim,
            index=col.indexes.choice(name, rec.dim).kind if rec.dim else "keyword",
        )
        for name, rec in col.store.spaces().items()
    }
    problems = tuple(col.store.check_consistency()) if check else None
    encoders = tuple(col.encoder_names())
    extractors = tuple(n for n in encoders if n not in spaces)
    return CollectionInfo(
        col.root, counts, spaces, problems, encoders, extractors, folder_size(col.root)
    )
