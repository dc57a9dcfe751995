"""The search side of a collection, kept between queries.

A space is bound (its encoder loaded and checked against the recorded fingerprint) the first
time a query needs it and kept, so a second query in the same process pays for no model; a
space that cannot read any term of a query is not bound at all (a text query loads no
image-only encoder, an image without words loads no keyword space).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Collection as Sized
from dataclasses import dataclass, replace

import numpy as np

from xmodal.encoders.registry import get_encoder, get_extractor, is_extractor
from xmodal.errors import UnembeddableQueryError, UsageError
from xmodal.index.cache import IndexCache
from xmodal.ingest.pipeline import decode_limits
from xmodal.ingest.prepare import Prepared
from xmodal.media.limits import DEFAULT_LIMITS
from xmodal.query.filters import Filters
from xmodal.query.fusion import FusionMethod, fuse_scaled
from xmodal.query.parse import Query
from xmodal.records import Modality, SearchHit
from xmodal.spaces.base import FilterScope, QueryInputs, SearchContext, Space, SpaceHit
from xmodal.spaces.bind import bind_space
from xmodal.spaces.moments import matched_span, moment_key
from xmodal.spaces.query_audio import decode_query_audio
from xmodal.spaces.query_image import decode_query_image
from xmodal.spaces.query_video import decode_query_video
from xmodal.spaces.vector import VectorSpace
from xmodal.spaces.video_moments import MomentMerger, video_fields
from xmodal.store.sqlite import SegmentRef, SpaceRecord, Store


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One search: the query and how its results are chosen (see ``Collection.search``)."""

    query: Query
    k: int = 10
    model: str | None = None
    filters: Filters | None = None
    fusion: FusionMethod = "rrf"
    weights: Mapping[str, float] | None = None
    min_score: float | None = None
    use_name: bool = False
    exact: bool = False
    #: keep the best moment per file; otherwise moments of one recording rank apart
    group_files: bool = False


def can_read(record: SpaceRecord, inputs: QueryInputs) -> bool:
    """Whether the space of ``record`` may embed or match some term of ``inputs``."""
    mods = record.spec.modalities
    images = inputs.images.values()
    if Modality.IMAGE in mods and any(p.image is not None or p.video is not None for p in images):
        return True
    if Modality.AUDIO in mods and any(p.audio is not None for p in images):
        return True
    words = bool(inputs.query.texts()) or any(p.text.strip() for p in images)
    return Modality.TEXT in mods and words


class Searcher:
    def __init__(
        self, store: Store, indexes: IndexCache, encoder_names: Callable[[], list[str]]
    ) -> None:
        self.store = store
        self.indexes = indexes
        #: the collection's encoders and text extractors, as recorded when it was indexed
        self.encoder_names = encoder_names
        self._bound: dict[str, tuple[SpaceRecord, Space]] = {}

    def space(self, record: SpaceRecord) -> Space:
        cached = self._bound.get(record.name)
        if cached is None or cached[0] != record:
            cached = (record, bind_space(record, SearchContext(self.store, self.indexes)))
            self._bound[record.name] = cached
        return cached[1]

    def inputs(
        self, query: Query, searched: Sequence[SpaceRecord], use_name: bool = False
    ) -> QueryInputs:
        """``query`` with each media term decoded once, as indexing decoded the collection's
        images and recordings (so a file that is in the collection finds itself with the same
        vector); text is read from pixels or heard in speech only when a space searched reads
        text."""
        if not query.media():
            return QueryInputs(query, {})
        extractors = [get_extractor(n) for n in self.encoder_names() if is_extractor(n)]
        reads_text = any(Modality.TEXT in r.spec.modalities for r in searched)
        readers = extractors if reads_text else []
        decoded: dict[str, Prepared] = {}
        if query.images() or query.videos():
            image_encoders = [
                get_encoder(r.name)
                for r in self.store.spaces().values()
                if Modality.IMAGE in r.spec.modalities
            ]
            limits = decode_limits(DEFAULT_LIMITS, image_encoders, extractors)
            for t in query.images():
                decoded[t.value] = decode_query_image(t.value, limits, readers, use_name)
            for t in query.videos():
                decoded[t.value] = decode_query_video(t.value, limits, readers, use_name)
        for t in query.audios():
            decoded[t.value] = decode_query_audio(t.value, DEFAULT_LIMITS, readers, use_name)
        return QueryInputs(query, decoded)

    def query_vectors(
        self, query: Query, spaces: Sequence[str], images: Mapping[str, Prepared] | None = None
    ) -> dict[str, np.ndarray]:
        """The query's vector in each of ``spaces`` that can embed at least one of its terms
        (keyword spaces make none)."""
        known = self.store.spaces()
        records = [known[n] for n in spaces]
        inputs = self.inputs(query, records) if images is None else QueryInputs(query, images)
        out: dict[str, np.ndarray] = {}
        for record in records:
            space = self.space(record)
            if isinstance(space, VectorSpace) and (vec := space.query_vector(inputs)) is not None:
                out[record.name] = vec
        return out

    def search(self, req: SearchRequest) -> list[SearchHit]:
        known = self.store.spaces()
        names = _check_request(req, known, self.store)
        inputs = self.inputs(req.query, [known[n] for n in names], req.use_name)
        needed = [known[n] for n in names if can_read(known[n], inputs)]
        spaces = sorted((self.space(r) for r in needed), key=lambda s: (s.fusion_order, s.name))
        scope = FilterScope(self.store, req.filters, req.exact)
        # several segments of one item may rank before the next item: look deeper than k
        depth = max(4 * req.k, 50)
        rankings = {s.name: r for s in spaces if (r := s.rank(inputs, depth, scope)) is not None}
        if not rankings:
            raise UnembeddableQueryError(
                "no space in this collection can embed this query "
                f"(spaces: {', '.join(names) or 'none'})"
            )
        return self._fused_hits(rankings, req)

    def _fused_hits(
        self, segment_rankings: Mapping[str, list[SpaceHit]], req: SearchRequest
    ) -> list[SearchHit]:
        """Each space's ranking of items by their best segment, fused, the top ``k`` at or
        above ``min_score`` shown with the segment that ranked best in the space that scored
        the item highest."""
        # segments resolved once: a writer may replace an item between two lookups
        resolved = self.store.resolve_segments(
            h.segment_id for ranking in segment_rankings.values() for h in ranking
        )
        rankings: dict[str, list[tuple[str, float]]] = {}
        best: dict[tuple[str, str], SpaceHit] = {}
        for space, seg_ranking in segment_rankings.items():
            item_ranking: list[tuple[str, float]] = []
            for hit in seg_ranking:
                ref = resolved.get(hit.segment_id)
                key = None if ref is None else moment_key(ref, req.group_files)
                if ref is None or key is None or (space, key) in best:
                    continue
                best[(space, key)] = hit
                item_ranking.append((key, hit.score))
            rankings[space] = item_ranking
        fused = fuse_scaled(rankings, req.fusion, req.weights)
        if req.min_score is not None:
            fused = [f for f in fused if f.score >= req.min_score]
        merged = MomentMerger()
        for f in fused:
            if len(merged.hits) >= req.k:
                break
            top_space = max(f.per_space, key=lambda s: f.per_space[s])
            hit = best[(top_space, f.key)]
            ref = resolved[hit.segment_id]
            span = matched_span(ref.segment, req.query)
            if span is not None and hit.start is None:
                hit = replace(hit, start=span[0], end=span[1])
            shown = _search_hit(ref, hit, f.score, f.per_space)
            merged.add(video_fields(shown, ref, self.store.root))
        return merged.hits


def _check_request(req: SearchRequest, known: Mapping[str, SpaceRecord], store: Store) -> list[str]:
    """The names of the spaces ``req`` searches, or a usage error saying what is wrong."""
    if req.k <= 0:
        raise UsageError("k must be positive")
    if not known:
        raise UsageError(f"collection {store.root} has nothing indexed yet; run `xmodal index`")
    if req.model is not None and req.model not in known:
        raise UsageError(f"collection has no space {req.model!r}; it has: {_listed(known)}")
    for name in req.weights or {}:
        if name not in known:
            raise UsageError(
                f"weight for {name!r}, a space this collection lacks; it has: {_listed(known)}"
            )
    if req.min_score is not None and not math.isfinite(req.min_score):
        raise UsageError("min score must be a finite number")
    return [req.model] if req.model is not None else sorted(known)


def _listed(names: Sized[str]) -> str:
    return ", ".join(sorted(names)) or "none"


#: media whose hits show the text of the segment that matched, not the item's
_BY_SEGMENT = frozenset({Modality.TEXT, Modality.AUDIO, Modality.VIDEO})


def _search_hit(
    ref: SegmentRef, hit: SpaceHit, score: float, per_space: dict[str, float]
) -> SearchHit:
    snippet = ref.segment.text if ref.item.modality in _BY_SEGMENT else ref.item.text
    return SearchHit(
        id=ref.item.id,
        path=ref.item.path,
        score=score,
        modality=ref.item.modality,
        segment=ref.segment.ordinal,
        start=ref.segment.start if hit.start is None else hit.start,
        end=ref.segment.end if hit.end is None else hit.end,
        text=snippet[:300],
        spaces=per_space,
        page=_page(ref),
    )


def _page(ref: SegmentRef) -> int | None:
    """The page a document's segment is on, from the pages recorded when it was read."""
    pages = ref.item.metadata.get("segment_pages")
    if not isinstance(pages, list) or not 0 <= ref.segment.ordinal < len(pages):
        return None
    page = pages[ref.segment.ordinal]
    return page if isinstance(page, int) else None
