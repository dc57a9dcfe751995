"""Typed records shared by every layer: items, segments, search hits, index reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Modality(StrEnum):
    IMAGE = "image"
    TEXT = "text"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class Segment:
    """A searchable part of an item: the whole image, a passage of text, a span of time.

    ``start``/``end`` are seconds for time-based media and ``None`` otherwise.
    """

    ordinal: int
    text: str = ""
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A file (or record) in a collection."""

    id: str
    path: str
    modality: Modality
    content_hash: str
    size: int
    mtime: float
    metadata: dict[str, Any] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result, best first in a result list."""

    id: str
    path: str
    score: float
    modality: Modality
    segment: int = 0
    start: float | None = None
    end: float | None = None
    text: str = ""
    spaces: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "path": self.path,
            "score": float(self.score),
            "modality": str(self.modality),
            "segment": self.segment,
        }
        if self.start is not None and self.end is not None:
            out["start"] = self.start
            out["end"] = self.end
        if self.text:
            out["text"] = self.text
        if self.spaces:
            out["spaces"] = {k: float(v) for k, v in self.spaces.items()}
        return out


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(slots=True)
class IndexReport:
    """What one ``index`` run did. ``moved`` files are also counted in ``updated``."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    moved: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        return d

    def summary(self) -> str:
        return (
            f"added {self.added}, updated {self.updated} (moved {self.moved}), "
            f"removed {self.removed}, unchanged {self.unchanged}, skipped {len(self.skipped)}"
        )
