"""Query expansion by pseudo-relevance feedback (Rocchio).

The top hits of a first search are taken as relevant and added to the query, each at a share
of ``beta``: in every vector space the query vector moves towards the centroid of those hits'
vectors (a picture enters by its pixels, a passage by its words, as when it was indexed), and
a keyword space gains their words. Negative terms of the query stay as they were.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from xmodal.query.parse import Query, Term
from xmodal.records import Modality, SearchHit

#: how many top hits feed back, and how much they weigh together against the query
FEEDBACK_HITS = 3
BETA = 0.5
#: a fed-back passage is cut to this many characters (a whole document would drown the query)
PASSAGE_CHARS = 400


def expand(
    query: Query, hits: Sequence[SearchHit], n: int = FEEDBACK_HITS, beta: float = BETA
) -> Query:
    """``query`` plus its ``n`` best ``hits`` at weight ``beta / n`` each."""
    top = list(hits[:n])
    if not top or beta <= 0:
        return query
    w = beta / len(top)
    extra: list[Term] = []
    for h in top:
        if h.modality is Modality.IMAGE and os.path.isfile(h.path):
            extra.append(Term("image", h.path, w))
        elif h.text.strip():
            extra.append(Term("text", h.text[:PASSAGE_CHARS], w))
    return Query(query.terms + tuple(extra))
