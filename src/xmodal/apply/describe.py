"""A short description of one item, each part labelled with where its words came from.

The parts, in order of trust:

- ``own words``: what indexing attached to the item (a document's text; for a picture its
  sidecar caption, embedded description and file name), less what OCR read;
- ``text in the picture``: the words an OCR extractor read from the pixels;
- ``transcript``: the words of the item's timed segments (audio, video), with their times;
- ``tags``: the labels ``xmodal tag`` gave it (zero-shot guesses, with their scores);
- ``similar items``: the words most shared by its nearest neighbours that have words of
  their own, weighted by similarity. These are borrowed, not seen: the item's content only
  resembles theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from xmodal.apply.similar import similar
from xmodal.errors import UsageError
from xmodal.records import Item, Modality
from xmodal.store.sqlite import Store

#: neighbours whose words are pooled
NEIGHBOURS = 5
#: words shown from the neighbours
NEIGHBOUR_WORDS = 6
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "with",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "webp",
        "img",
    ]
)


@dataclass(frozen=True, slots=True)
class Part:
    source: str
    text: str
    #: the items the words were borrowed from (``similar items`` only)
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Description:
    id: str
    path: str
    parts: list[Part]

    @property
    def summary(self) -> str:
        if not self.parts:
            return "no words known for this item, and no similar item has any"
        return "; ".join(f"{p.source}: {p.text}" for p in self.parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "summary": self.summary,
            "parts": [
                {"source": p.source, "text": p.text, **({"from": p.sources} if p.sources else {})}
                for p in self.parts
            ],
        }


def _ocr_words(item: Item) -> str:
    found: list[str] = []
    for value in item.metadata.values():
        if (
            isinstance(value, list)
            and value
            and all(isinstance(b, dict) and "text" in b and "box" in b for b in value)
        ):
            found.extend(str(b["text"]) for b in value)
    return " ".join(found).strip()


def _own_words(item: Item, ocr: str) -> str:
    text = item.text
    if ocr and text.endswith(ocr):
        text = text[: -len(ocr)].rstrip(". ")
    return " ".join(text.split())[:300]


def _transcript(store: Store, item: Item) -> str:
    timed = [s for s in store.segments(item.id) if s.start is not None and s.end is not None]
    return " ".join(f"[{s.start:.1f}s] {s.text.strip()}" for s in timed if s.text.strip())[:400]


def _tags(item: Item) -> str:
    scores = item.metadata.get("tag_scores", {})
    return ", ".join(
        f"{t} ({scores[t]:.2f})" if isinstance(scores.get(t), int | float) else str(t)
        for t in item.metadata.get("tags", [])
    )


def _neighbour_words(store: Store, item: Item) -> Part | None:
    try:
        hits = similar(store, item.id, k=NEIGHBOURS * 4)
    except UsageError:
        return None
    weights: dict[str, float] = {}
    used = []
    for hit in hits:
        other = store.item(hit.id)
        words = set(_WORD.findall(_own_words(other, _ocr_words(other)).lower())) if other else set()
        words -= _STOP
        if not words:
            continue
        used.append(hit.id)
        for w in words:
            weights[w] = weights.get(w, 0.0) + max(hit.score, 0.0)
        if len(used) == NEIGHBOURS:
            break
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    top = [w for w, c in ranked[:NEIGHBOUR_WORDS] if c > 0]
    return Part("similar items", ", ".join(top), used) if top else None


def describe(store: Store, item_id: str) -> Description:
    """The description of ``item_id`` (see the module's list of parts)."""
    item = store.item(item_id)
    if item is None:
        raise UsageError(f"no item with id {item_id!r} in this collection")
    ocr = _ocr_words(item)
    parts = [
        Part("own words", _own_words(item, ocr)),
        Part("text in the picture", ocr[:300] if item.modality is Modality.IMAGE else ""),
        Part("transcript", _transcript(store, item)),
        Part("tags", _tags(item)),
    ]
    kept = [p for p in parts if p.text]
    if (borrowed := _neighbour_words(store, item)) is not None:
        kept.append(borrowed)
    return Description(item.id, item.path, kept)
