"""What a search does around its spaces' rankings: feedback from a first pass (``expand``)
and hits that mention an unwanted concept moved down (``negation.demote``)."""

from __future__ import annotations

from collections.abc import Callable

from xmodal.query.expand import expand as expand_query
from xmodal.query.negation import demote, negative_texts
from xmodal.query.parse import Query
from xmodal.records import SearchHit

#: one pass of the engine: (query, how many hits) to hits, best first
RunSearch = Callable[[Query, int], list[SearchHit]]


def refined_search(run: RunSearch, query: Query, k: int, expand: bool = False) -> list[SearchHit]:
    """The ``k`` best hits of ``query``, expanded by pseudo-relevance feedback when asked,
    with those that mention a negated term of the query below those that do not."""
    unwanted = negative_texts(query)
    # demoting can only promote what was found: look deeper than k when something is unwanted
    depth = max(4 * k, 50) if unwanted else k
    if expand:
        query = expand_query(query, run(query, k))
    return demote(run(query, depth), unwanted)[:k]
