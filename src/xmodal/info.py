"""What a collection holds: its items by modality, its spaces, and whether it is consistent."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """A summary of a collection; ``problems`` is ``None`` when consistency was not checked."""

    path: Path
    by_modality: Mapping[str, int]
    spaces: Mapping[str, SpaceInfo]
    problems: tuple[str, ...] | None = None

    @property
    def items(self) -> int:
        return sum(self.by_modality.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "items": self.items,
            "by_modality": dict(self.by_modality),
            "spaces": {n: {"encoder": s.encoder, "dim": s.dim} for n, s in self.spaces.items()},
            "problems": None if self.problems is None else list(self.problems),
        }


def collection_info(col: Collection, check: bool = False) -> CollectionInfo:
    """Count ``col``'s items by modality (in order of first appearance by path), list its
    spaces, and with ``check`` verify that its items, segments and vectors agree."""
    counts: dict[str, int] = {}
    for item in col:
        counts[str(item.modality)] = counts.get(str(item.modality), 0) + 1
    spaces = {
        name: SpaceInfo(encoder=rec.spec.weights, dim=rec.dim)
        for name, rec in col.store.spaces().items()
    }
    problems = tuple(col.store.check_consistency()) if check else None
    return CollectionInfo(col.root, counts, spaces, problems)
