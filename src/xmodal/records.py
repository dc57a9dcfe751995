"""Typed records shared by every layer: items, segments, search hits, index reports."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Modality(StrEnum):
    IMAGE = "image"
    TEXT = "text"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class EncoderSpec:
    """Everything that decides which vectors an encoder produces.

    Two encoders with equal ``fingerprint()`` produce interchangeable vectors; a collection
    refuses to put vectors of different fingerprints in one space.
    """

    name: str
    weights: str
    dim: int
    modalities: frozenset[Modality]
    preprocessing: dict[str, Any] = field(default_factory=dict)
    languages: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "weights": self.weights,
                "dim": self.dim,
                "modalities": sorted(str(m) for m in self.modalities),
                "preprocessing": self.preprocessing,
            },
            sort_keys=True,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weights": self.weights,
            "dim": self.dim,
            "modalities": sorted(str(m) for m in self.modalities),
            "preprocessing": self.preprocessing,
            "languages": list(self.languages),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EncoderSpec:
        return cls(
            name=data["name"],
            weights=data["weights"],
            dim=int(data["dim"]),
            modalities=frozenset(Modality(m) for m in data["modalities"]),
            preprocessing=dict(data.get("preprocessing", {})),
            languages=tuple(data.get("languages", ())),
        )


@dataclass(frozen=True, slots=True)
class Word:
    """A recognised word of speech and when it was said (seconds from the item's start)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Segment:
    """A searchable part of an item: the whole image, a passage of text, a span of time.

    ``start``/``end`` are seconds for time-based media and ``None`` otherwise.
    """

    ordinal: int
    text: str = ""
    start: float | None = None
    end: float | None = None
    #: the words of ``text`` with their times, when the text was heard (speech)
    words: tuple[Word, ...] = ()


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
    #: page number from 1 of the segment, in documents that have pages (PDF)
    page: int | None = None
    #: a video hit's shot (from 0) and the JPEG of its moment
    shot: int | None = None
    thumbnail: str | None = None

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
        if self.page is not None:
            out["page"] = self.page
        if self.shot is not None:
            out["shot"] = self.shot
        if self.thumbnail is not None:
            out["thumbnail"] = self.thumbnail
        return out


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str

    @property
    def group(self) -> str:
        return reason_group(self.reason)


#: (pattern, group) in the order they are tried; the reasons are the decoders' and the walk's
_REASON_GROUPS = (
    (r"^unsupported type", "unsupported type"),
    (r"pip install", "missing optional dependency"),
    (r"encrypted|password", "encrypted"),
    (r"larger than|over the limit|too large|too many|inflates", "too large"),
    (r"symbolic link loop", "symbolic link loop"),
    (r"^duplicate link", "duplicate link"),
    (r"broken symbolic link", "broken link"),
    (r"not valid UTF-8", "bad file name"),
    (r"permission denied|^cannot (stat|read|open|list)", "unreadable"),
    (r"no such file", "not found"),
    (r"not a regular file", "not a regular file"),
    (r"^empty file|^no text", "empty"),
    (r"^binary content", "binary content"),
    (r"decoder error|out of memory", "decoder error"),
    (r"image|SVG", "corrupt image"),
    (r"video", "corrupt video"),
    (r"audio", "corrupt audio"),
    (r"PDF|DOCX|EPUB|HTML", "corrupt document"),
)
_DETAIL = re.compile(r"^unsupported type \((.+)\)$")
#: how many file types the summary line names for unsupported files
_SHOWN_TYPES = 4


def reason_group(reason: str) -> str:
    """The kind of a skip reason, under which reports count skipped files."""
    for pattern, group in _REASON_GROUPS:
        if re.search(pattern, reason, re.IGNORECASE):
            return group
    return "other"


@dataclass(slots=True)
class IndexReport:
    """What one ``index`` run did. ``moved`` files are also counted in ``updated``."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    moved: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_by_reason(self) -> dict[str, int]:
        """Skipped files counted by kind of reason, most frequent first."""
        counts = Counter(s.group for s in self.skipped)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        d["skipped_by_reason"] = self.skipped_by_reason()
        return d

    def _unsupported_types(self) -> str:
        found = Counter(
            m.group(1) for s in self.skipped if (m := _DETAIL.match(s.reason)) is not None
        )
        names = [t for t, _ in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))]
        more = f", +{len(names) - _SHOWN_TYPES} more" if len(names) > _SHOWN_TYPES else ""
        return f" ({', '.join(names[:_SHOWN_TYPES])}{more})" if names else ""

    def summary(self) -> str:
        line = (
            f"added {self.added}, updated {self.updated} (moved {self.moved}), "
            f"removed {self.removed}, unchanged {self.unchanged}, skipped {len(self.skipped)}"
        )
        if not self.skipped:
            return line
        groups = [
            f"{n} {g}{self._unsupported_types() if g == 'unsupported type' else ''}"
            for g, n in self.skipped_by_reason().items()
        ]
        return f"{line}: {', '.join(groups)}"
