"""Hits on moments of recordings: each span of a recording ranks on its own (two moments of
one lecture are two results) unless files are grouped, and a hit names the words that matched
inside its span rather than the whole span."""

from __future__ import annotations

import re

from xmodal.query.parse import Query
from xmodal.records import Modality, Segment
from xmodal.store.sqlite import SegmentRef

#: media whose segments are moments in time
TIMED = frozenset({Modality.AUDIO, Modality.VIDEO})
_TOKEN = re.compile(r"\w+")
#: words too common to place a moment by ("the" is said everywhere)
_COMMON_WORDS = (
    "a an and are as at be but by for from has have he her his i in is it its of on or our "
    "she so that the their they this to was we were what when which who will with you your"
)
_COMMON = frozenset(_COMMON_WORDS.split(" "))


def moment_key(ref: SegmentRef, group_files: bool) -> str:
    """What fusion ranks: the item, or one moment of a timed item."""
    if group_files or ref.item.modality not in TIMED:
        return ref.item.id
    return f"{ref.item.id}#{ref.segment.ordinal}"


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.casefold())) - _COMMON


def matched_span(segment: Segment, query: Query) -> tuple[float, float] | None:
    """(start, end) from the first to the last of the segment's words that are in the
    query (words too common to place anything aside); None when none is (a match by
    meaning, or across languages: the whole segment is the moment)."""
    wanted = set().union(*(_tokens(t.value) for t in query.texts() if t.weight > 0))
    if not segment.words or not wanted:
        return None
    hit = [w for w in segment.words if _tokens(w.text) & wanted]
    if not hit:
        return None
    return hit[0].start, hit[-1].end
