"""Hits on moments of recordings: each span of a recording ranks on its own (two moments of
one lecture are two results) unless files are grouped, and a hit names the words that matched
inside its span rather than the whole span."""

from __future__ import annotations

import re

from xmodal.query.parse import Query
from xmodal.records import Modality, Segment, Word
from xmodal.store.sqlite import SegmentRef

#: media whose segments are moments in time
TIMED = frozenset({Modality.AUDIO, Modality.VIDEO})
#: matched words further apart than this many words belong to different runs
_RUN_GAP = 3
_TOKEN = re.compile(r"\w+")
#: words too common to place a moment by ("the" is said everywhere)
_COMMON = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its of on or our "
    "she so that the their they this to was we were what when which who will with you your".split()
)


def moment_key(ref: SegmentRef, group_files: bool) -> str:
    """What fusion ranks: the item, or one moment of a timed item."""
    if group_files or ref.item.modality not in TIMED:
        return ref.item.id
    return f"{ref.item.id}#{ref.segment.ordinal}"


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.casefold())) - _COMMON


def _runs(words: tuple[Word, ...], wanted: set[str]) -> list[list[int]]:
    runs: list[list[int]] = []
    for n, w in enumerate(words):
        if not _tokens(w.text) & wanted:
            continue
        if runs and n - runs[-1][-1] <= _RUN_GAP:
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs


def matched_span(segment: Segment, query: Query) -> tuple[float, float] | None:
    """(start, end) of the run of the segment's words that holds most of the query's words
    (the longest such run on a tie); None when none of its words is in the query (a match
    by meaning, or across languages: the whole segment is the moment)."""
    wanted = set().union(*(_tokens(t.value) for t in query.texts() if t.weight > 0))
    if not segment.words or not wanted:
        return None
    runs = _runs(segment.words, wanted)
    if not runs:
        return None

    def covered(run: list[int]) -> tuple[int, int]:
        found = set().union(*(_tokens(segment.words[n].text) for n in run)) & wanted
        return len(found), len(run)

    best = max(runs, key=covered)
    return segment.words[best[0]].start, segment.words[best[-1]].end
