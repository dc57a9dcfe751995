"""``Collection``: the library's front door. Index folders, search them, remove items."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from xmodal.catalogue import AUTO, resolve_auto
from xmodal.closing import Closing
from xmodal.encoders.base import Encoder, TextExtractor
from xmodal.encoders.registry import get_encoder, get_extractor, is_extractor
from xmodal.errors import UnembeddableQueryError, UsageError
from xmodal.index.base import DEFAULT_INDEX
from xmodal.index.cache import IndexCache
from xmodal.ingest.pipeline import IndexOptions, decode_limits, run_index
from xmodal.ingest.prepare import Prepared, prepare
from xmodal.media.limits import DEFAULT_LIMITS
from xmodal.media.walk import FileRef, modality_of
from xmodal.progress import ProgressFactory
from xmodal.query.filters import Filters
from xmodal.query.fusion import FusionMethod, fuse
from xmodal.query.parse import Query, Term, parse_query
from xmodal.records import IndexReport, Item, Modality, SearchHit
from xmodal.spaces import (
    FilterScope,
    QueryInputs,
    SearchContext,
    SpaceHit,
    VectorSpace,
    bind_space,
    bind_spaces,
)
from xmodal.store.lock import WriteLock
from xmodal.store.sqlite import SegmentRef, Store

_ENCODERS_KEY = "encoders"
_ROOTS_KEY = "roots"


class Collection(Closing):
    """A durable, searchable collection of media in one folder.

    >>> with Collection.open("~/.xmodal/mine") as col:
    ...     col.index(["~/Pictures"])
    ...     hits = col.search("red bicycle", k=5)
    """

    def __init__(self, store: Store, index_kind: str = DEFAULT_INDEX) -> None:
        self.store = store
        #: each space's vector index, kept while the store is unchanged
        self.indexes = IndexCache(store, index_kind)
        #: one-line messages for the user (which encoders ``auto`` chose, and why)
        self.notes: list[str] = []

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], create: bool = True, index_kind: str = DEFAULT_INDEX
    ) -> Collection:
        return cls(Store(Path(os.path.expanduser(os.fspath(path))), create=create), index_kind)

    def close(self) -> None:
        self.store.close()

    @property
    def root(self) -> Path:
        return self.store.root

    # -- contents --------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.store.count()

    def __iter__(self) -> Iterator[Item]:
        return self.store.iter_items()

    def get(self, item_id: str) -> Item | None:
        return self.store.item(item_id)

    def ids(self) -> dict[str, str]:
        """``{path: id}`` of every item, for writing qrels by path."""
        return self.store.ids()

    def encoder_names(self) -> list[str]:
        """The encoders this collection is indexed with."""
        raw = self.store.get_meta(_ENCODERS_KEY)
        return list(json.loads(raw)) if raw else []

    def spaces(self) -> list[str]:
        return sorted(self.store.spaces())

    def roots(self) -> list[str]:
        """The files and folders this collection was indexed from (absolute paths); for one
        indexed before they were recorded, the folder that holds all its items."""
        raw = self.store.get_meta(_ROOTS_KEY)
        if raw:
            return list(json.loads(raw))
        paths = [os.path.dirname(p) for p in self.store.ids()]
        return [os.path.commonpath(paths)] if paths else []

    # -- writing ---------------------------------------------------------------------------

    def index(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        models: Sequence[str] | None = None,
        options: IndexOptions | None = None,
        progress: ProgressFactory | None = None,
        wait: float = 0.0,
    ) -> IndexReport:
        """Index or re-index ``paths``: new and changed files are embedded, unchanged ones
        skipped without decoding, moved ones keep their vectors, removed ones leave.

        ``models`` adds spaces to the collection; by default the collection keeps the
        encoders it was built with, and a new one is built with ``auto`` (the best set
        available offline; ``notes`` says which).
        """
        roots = [os.path.abspath(os.path.expanduser(os.fspath(p))) for p in paths]
        with WriteLock(self.root, wait=wait):
            names = self.encoder_names()
            requested = list(models or ([] if names else [AUTO]))
            if AUTO in requested:
                chosen, note = resolve_auto()
                self.notes.append(note)
                at = requested.index(AUTO)
                requested[at : at + 1] = chosen
            for m in requested:
                # the canonical name (an absolute path for a fitted model) reopens anywhere
                m = get_extractor(m).name if is_extractor(m) else get_encoder(m).spec.name
                if m not in names:
                    names.append(m)
            encoders, extractors = _load_parts(names)
            for enc in encoders:
                self.store.ensure_space(enc.spec)
            self.store.set_meta(_ENCODERS_KEY, json.dumps(names))
            known_roots = json.loads(self.store.get_meta(_ROOTS_KEY) or "[]")
            self.store.set_meta(_ROOTS_KEY, json.dumps(sorted({*known_roots, *roots})))
            report = run_index(
                self.store, roots, encoders, options or IndexOptions(), progress, extractors
            )
        self.indexes.clear()
        return report

    def remove(self, paths_or_ids: Sequence[str], wait: float = 0.0) -> int:
        """Remove items by id or by path (a folder removes everything under it)."""
        with WriteLock(self.root, wait=wait):
            ids_by_path = self.store.ids()
            known_ids = set(ids_by_path.values())
            doomed: set[str] = set()
            for p in paths_or_ids:
                if p in known_ids:
                    doomed.add(p)
                    continue
                ap = os.path.abspath(os.path.expanduser(p))
                prefix = ap.rstrip(os.sep) + os.sep
                doomed.update(
                    i for path, i in ids_by_path.items() if path == ap or path.startswith(prefix)
                )
            n = self.store.delete_items(sorted(doomed))
        self.indexes.clear()
        return n

    # -- searching -------------------------------------------------------------------------

    def _image_term_inputs(self, term: Term) -> Prepared:
        path = os.path.abspath(os.path.expanduser(term.value))
        if not os.path.isfile(path):
            raise UsageError(f"query image not found: {term.value}")
        if modality_of(path) is not Modality.IMAGE:
            raise UsageError(f"query image is not a supported image file: {term.value}")
        from xmodal.media.walk import walk

        found = walk([path])
        ref = found.files[0] if found.files else FileRef(path, Modality.IMAGE, 0, 0)
        # decoded exactly as indexing decoded the collection's images, so a picture that is in
        # the collection finds itself with the same vector
        limits = decode_limits(DEFAULT_LIMITS, *_load_parts(self.encoder_names()))
        result = prepare(ref, limits, None, None, {})
        if not isinstance(result, Prepared) or result.image is None:
            reason = getattr(result, "reason", "cannot decode")
            raise UsageError(f"query image {term.value}: {reason}")
        return result

    def _query_inputs(self, query: Query) -> QueryInputs:
        """Each image term decoded once per search, however many spaces read it."""
        return QueryInputs(query, {t.value: self._image_term_inputs(t) for t in query.images()})

    def _context(self) -> SearchContext:
        return SearchContext(self.store, self.indexes)

    def query_vectors(
        self,
        query: Query,
        spaces: Sequence[str],
        images: Mapping[str, Prepared] | None = None,
    ) -> dict[str, np.ndarray]:
        """The query's vector in each of ``spaces`` that can embed at least one of its terms
        (keyword spaces make none)."""
        inputs = self._query_inputs(query) if images is None else QueryInputs(query, images)
        known = self.store.spaces()
        out: dict[str, np.ndarray] = {}
        for name in spaces:
            space = bind_space(known[name], self._context())
            if isinstance(space, VectorSpace) and (vec := space.query_vector(inputs)) is not None:
                out[name] = vec
        return out

    def _full_query(self, query: str | Query | None, image: str | os.PathLike[str] | None) -> Query:
        q = parse_query(query) if isinstance(query, str) else query
        terms = list(q.terms) if q else []
        if image is not None:
            terms.append(Term("image", os.fspath(image), 1.0))
        if not terms:
            raise UsageError("nothing to search for: give a query, --image, or both")
        return Query(tuple(terms))

    def search(
        self,
        query: str | Query | None = None,
        *,
        image: str | os.PathLike[str] | None = None,
        k: int = 10,
        model: str | None = None,
        filters: Filters | None = None,
        fusion: FusionMethod = "rrf",
        weights: Mapping[str, float] | None = None,
    ) -> list[SearchHit]:
        """Search with text, an image, or a mixed weighted query; best first.

        Each space ranks items by their best segment; the rankings are fused (reciprocal-rank
        fusion by default). ``model`` restricts the search to one space.
        """
        if k <= 0:
            raise UsageError("k must be positive")
        q = self._full_query(query, image)
        known = self.store.spaces()
        if not known:
            raise UsageError(f"collection {self.root} has nothing indexed yet; run `xmodal index`")
        if model is not None and model not in known:
            have = ", ".join(sorted(known)) or "none"
            raise UsageError(f"collection has no space {model!r}; it has: {have}")
        names = [model] if model is not None else sorted(known)
        inputs = self._query_inputs(q)
        spaces = bind_spaces([known[n] for n in names], self._context())
        scope = FilterScope(self.store, filters)
        # several segments of one item may rank before the next item: look deeper than k
        depth = max(4 * k, 50)
        rankings = {s.name: r for s in spaces if (r := s.rank(inputs, depth, scope)) is not None}
        if not rankings:
            raise UnembeddableQueryError(
                "no space in this collection can embed this query "
                f"(spaces: {', '.join(names) or 'none'})"
            )
        return self._fused_hits(rankings, k, fusion, weights)

    def _fused_hits(
        self,
        segment_rankings: Mapping[str, list[SpaceHit]],
        k: int,
        fusion: FusionMethod,
        weights: Mapping[str, float] | None,
    ) -> list[SearchHit]:
        """Each space's ranking of items by their best segment, fused, the top ``k`` shown
        with the segment that ranked best in the space that scored the item highest."""
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
                if ref is None or (space, ref.item.id) in best:
                    continue
                best[(space, ref.item.id)] = hit
                item_ranking.append((ref.item.id, hit.score))
            rankings[space] = item_ranking
        hits = []
        for f in fuse(rankings, fusion, weights)[:k]:
            top_space = max(f.per_space, key=lambda s: f.per_space[s])
            hit = best[(top_space, f.key)]
            hits.append(_search_hit(resolved[hit.segment_id], hit, f.score, f.per_space))
        return hits


def _load_parts(names: Sequence[str]) -> tuple[list[Encoder], list[TextExtractor]]:
    """The encoders (one per space) and the text extractors among ``names``."""
    encoders = [get_encoder(n) for n in names if not is_extractor(n)]
    extractors = [get_extractor(n) for n in names if is_extractor(n)]
    return encoders, extractors


def _search_hit(
    ref: SegmentRef, hit: SpaceHit, score: float, per_space: dict[str, float]
) -> SearchHit:
    snippet = ref.segment.text if ref.item.modality is Modality.TEXT else ref.item.text
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
    )
