"""Why a hit matched: each space's part in its score, the words that matched, and the
nearest labelled neighbour.

- ``spaces``: per space, the hit's own score there, its rank in that space's ranking, and the
  share of the fused score it brought (reciprocal rank, or weighted score);
- ``words``: the query's terms found in the hit's text by each keyword space's analyser
  (BM25 terms), exactly as the keyword index saw them;
- ``ocr``: the boxes read from the picture's pixels that hold a query word, with where they are;
- ``moments``: for a hit inside a time span, the matched words with the span's start and end;
- ``neighbour``: the closest other item with words of its own (a caption, a passage) in the
  first vector space that ranked the hit: what the engine thinks the hit looks like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xmodal.collection import Collection
from xmodal.encoders.registry import info, is_extractor
from xmodal.errors import UnembeddableQueryError
from xmodal.query.fusion import RRF_K, FusionMethod
from xmodal.query.negation import parse_natural
from xmodal.query.parse import Query
from xmodal.records import Item, Modality, SearchHit
from xmodal.spaces.keyword import KeywordSpace
from xmodal.spaces.searcher import SearchRequest

#: how deep each space is searched to find a hit's rank there
RANK_DEPTH = 200
#: nearest candidates looked at for a labelled neighbour
NEIGHBOURS = 20


def _kind(space: str) -> str:
    return str(info(space).space)


def _ranks(col: Collection, query: Query, spaces: Sequence[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for s in spaces:
        try:
            hits = col.searcher.search(_one_space(query, s))
        except UnembeddableQueryError:
            continue
        out[s] = {h.id: r for r, h in enumerate(hits, start=1)}
    return out


def _one_space(query: Query, space: str) -> SearchRequest:
    return SearchRequest(query, RANK_DEPTH, space)


def _space_parts(
    hit: SearchHit, ranks: Mapping[str, Mapping[str, int]], fusion: FusionMethod
) -> dict[str, dict[str, Any]]:
    raw: dict[str, float] = {}
    for s, score in hit.spaces.items():
        rank = ranks.get(s, {}).get(hit.id)
        raw[s] = (1.0 / (RRF_K + rank) if rank else 0.0) if fusion == "rrf" else max(score, 0.0)
    total = sum(raw.values()) or 1.0
    return {
        s: {"score": float(score), "rank": ranks.get(s, {}).get(hit.id), "share": raw[s] / total}
        for s, score in hit.spaces.items()
    }


def _matched_words(col: Collection, query: Query, text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    wanted_text = " ".join(t.value for t in query.texts() if t.weight > 0)
    for record in col.store.spaces().values():
        space = col.searcher.space(record) if _kind(record.name) == "keyword" else None
        if isinstance(space, KeywordSpace):
            wanted = set(space.encoder.analyze(wanted_text))
            out[record.name] = sorted(wanted & set(space.encoder.analyze(text)))
    return out


def _ocr_boxes(col: Collection, item: Item, words: set[str]) -> list[dict[str, Any]]:
    found = []
    for name in col.encoder_names():
        boxes = item.metadata.get(name) if is_extractor(name) else None
        for b in boxes if isinstance(boxes, list) else []:
            text = str(b.get("text", ""))
            if words & {w.lower() for w in text.split()}:
                found.append({"text": text, "box": b.get("box"), "source": name})
    return found


def _neighbour(col: Collection, hit: SearchHit) -> dict[str, Any] | None:
    records = col.store.spaces()
    vector_spaces = [s for s in hit.spaces if s in records and _kind(s) == "vector"]
    if not vector_spaces:
        return None
    rec = records[vector_spaces[0]]
    _, seg_ids, mat = col.store.load_vectors(rec.name, rec.dim)
    refs = col.store.resolve_segments(seg_ids.tolist())
    mine = [i for i, sid in enumerate(seg_ids.tolist()) if refs[sid].item.id == hit.id]
    if not mine:
        return None
    sims = mat @ mat[mine[0]]
    for i in np.argsort(-sims)[: NEIGHBOURS + len(mine)].tolist():
        ref = refs[int(seg_ids[i])]
        label = ref.item.text.strip() or ref.segment.text.strip()
        if ref.item.id != hit.id and label:
            return {
                "id": ref.item.id,
                "path": ref.item.path,
                "space": rec.name,
                "similarity": float(sims[i]),
                "label": label[:200],
            }
    return None


def explain(
    col: Collection, query: str | Query, hits: Sequence[SearchHit], fusion: FusionMethod = "rrf"
) -> list[dict[str, Any]]:
    """The ``why`` of each of ``hits`` of ``query`` (see the module's docstring)."""
    q = parse_natural(query) if isinstance(query, str) else query
    spaces = sorted({s for h in hits for s in h.spaces})
    ranks = _ranks(col, q, spaces) if len(spaces) > 1 else {
        s: {h.id: r for r, h in enumerate(hits, start=1)} for s in spaces
    }
    out = []
    for h in hits:
        item = col.get(h.id)
        text = h.text if item is None else (item.text + " " + h.text)
        words = _matched_words(col, q, text)
        all_words = {w for ws in words.values() for w in ws}
        why: dict[str, Any] = {"spaces": _space_parts(h, ranks, fusion), "words": words}
        if item is not None and item.modality is Modality.IMAGE:
            why["ocr"] = _ocr_boxes(col, item, all_words)
        if h.start is not None and h.end is not None:
            why["moments"] = [{"word": w, "start": h.start, "end": h.end} for w in all_words]
        why["neighbour"] = _neighbour(col, h)
        out.append(why)
    return out
