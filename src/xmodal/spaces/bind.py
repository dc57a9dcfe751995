"""Building the right kind of space for each of a collection's space records."""

from __future__ import annotations

from collections.abc import Iterable

from xmodal.encoders.registry import SpaceKind, get_encoder, info
from xmodal.spaces.base import SearchContext, Space, checked_encoder
from xmodal.spaces.keyword import KeywordSpace
from xmodal.spaces.vector import VectorSpace
from xmodal.store.sqlite import SpaceRecord

#: the class that searches each kind of space a family declares in its registration
SPACE_KINDS: dict[SpaceKind, type[Space]] = {"vector": VectorSpace, "keyword": KeywordSpace}


def bind_space(record: SpaceRecord, context: SearchContext) -> Space:
    """The space ``record`` with its encoder loaded and checked against the recorded
    fingerprint."""
    enc = checked_encoder(record, get_encoder(record.name))
    return SPACE_KINDS[info(record.name).space](record, enc, context)


def bind_spaces(records: Iterable[SpaceRecord], context: SearchContext) -> list[Space]:
    """Every space of ``records``, in the order their rankings enter fusion."""
    bound = [bind_space(r, context) for r in sorted(records, key=lambda r: r.name)]
    return sorted(bound, key=lambda s: (s.fusion_order, s.name))
