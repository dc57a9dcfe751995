"""The one interface every kind of space implements for search, and what it returns.

A space is bound once per search: its encoder is loaded and checked against the fingerprint
the collection recorded, then ``rank`` is asked for the query's best segments in it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from xmodal.encoders.base import Encoder
from xmodal.errors import EncoderMismatchError
from xmodal.index.cache import IndexCache
from xmodal.ingest.prepare import Prepared
from xmodal.query.filters import Filters
from xmodal.query.parse import Query
from xmodal.store.sqlite import SpaceRecord, Store


@dataclass(frozen=True, slots=True)
class SpaceHit:
    """One ranked segment. A space over time spans (audio, video) ranks a span inside the
    stored segment and reports it in ``start``/``end``; None means the whole segment."""

    segment_id: int
    score: float
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class QueryInputs:
    """A parsed query with each of its media terms (images, recordings) decoded once,
    however many spaces read it (keyed by the term's value)."""

    query: Query
    images: Mapping[str, Prepared]


@dataclass(slots=True)
class FilterScope:
    """The metadata filters of one search; the segments they allow are looked up at most
    once, and only if a space needs them as ids."""

    store: Store
    filters: Filters | None
    #: search every vector exactly, whatever index the space keeps (to measure recall)
    exact: bool = False
    _allowed: np.ndarray | None = field(default=None, init=False)

    def allowed_segments(self) -> np.ndarray | None:
        """Ids of the segments that pass the filters; None when nothing is filtered."""
        if self.filters is None or self.filters.is_empty():
            return None
        if self._allowed is None:
            self._allowed = self.store.allowed_segments(self.filters)
        return self._allowed


@dataclass(slots=True)
class SearchContext:
    """What the spaces of one collection share: its store and its vector indexes."""

    store: Store
    indexes: IndexCache


class Space(ABC):
    """One space of a collection, bound to its (checked) encoder for one search."""

    #: rankings enter fusion by this order, then by name (vector spaces before keyword
    #: spaces): fusion's per-space scores and its tie between spaces follow that order
    fusion_order: int = 0

    def __init__(self, record: SpaceRecord, encoder: Encoder, context: SearchContext) -> None:
        self.record = record
        self.encoder = encoder
        self.context = context

    @property
    def name(self) -> str:
        return self.record.name

    @abstractmethod
    def rank(self, query: QueryInputs, depth: int, filters: FilterScope) -> list[SpaceHit] | None:
        """The best ``depth`` segments for ``query``, best first; None when the query has
        nothing this space can read (so the space takes no part in fusion)."""


def checked_encoder(record: SpaceRecord, encoder: Encoder) -> Encoder:
    """``encoder`` if it makes the vectors ``record`` was built with, else an error."""
    if encoder.spec.fingerprint() != record.fingerprint:
        raise EncoderMismatchError(
            f"space {record.name!r} was built with {record.spec.weights} (dim {record.dim}) but "
            f"the installed encoder is {encoder.spec.weights} (dim {encoder.spec.dim}); "
            "re-index the collection with this encoder into a new collection"
        )
    return encoder
