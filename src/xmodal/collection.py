"""``Collection``: the library's front door. Index folders, search them, remove items."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

from xmodal.encoders.base import Encoder, l2_normalize
from xmodal.encoders.registry import (
    AUTO,
    get_encoder,
    get_extractor,
    is_extractor,
    resolve_auto,
)
from xmodal.errors import EncoderMismatchError, UnembeddableQueryError, UsageError
from xmodal.index.base import DEFAULT_INDEX, VectorIndex, create_index
from xmodal.ingest.pipeline import IndexOptions, decode_limits, run_index
from xmodal.ingest.prepare import Prepared, prepare
from xmodal.media.limits import DEFAULT_LIMITS
from xmodal.media.walk import FileRef, modality_of
from xmodal.progress import ProgressFactory
from xmodal.query.filters import Filters
from xmodal.query.fusion import FusionMethod, fuse
from xmodal.query.parse import Query, Term, parse_query
from xmodal.records import IndexReport, Item, Modality, SearchHit
from xmodal.store.lock import WriteLock
from xmodal.store.snapshot import load_space
from xmodal.store.sqlite import Store

_ENCODERS_KEY = "encoders"


class Collection:
    """A durable, searchable collection of media in one folder.

    >>> with Collection.open("~/.xmodal/mine") as col:
    ...     col.index(["~/Pictures"])
    ...     hits = col.search("red bicycle", k=5)
    """

    def __init__(self, store: Store, index_kind: str = DEFAULT_INDEX) -> None:
        self.store = store
        self.index_kind = index_kind
        self._indexes: dict[str, tuple[int, VectorIndex]] = {}
        #: one-line messages for the user (which encoders ``auto`` chose, and why)
        self.notes: list[str] = []

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], create: bool = True, index_kind: str = DEFAULT_INDEX
    ) -> Collection:
        return cls(Store(Path(os.path.expanduser(os.fspath(path))), create=create), index_kind)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
            encoders = [get_encoder(n) for n in names if not is_extractor(n)]
            extractors = [get_extractor(n) for n in names if is_extractor(n)]
            for enc in encoders:
                self.store.ensure_space(enc.spec)
            self.store.set_meta(_ENCODERS_KEY, json.dumps(names))
            report = run_index(
                self.store, roots, encoders, options or IndexOptions(), progress, extractors
            )
        self._indexes.clear()
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
        self._indexes.clear()
        return n

    # -- searching -------------------------------------------------------------------------

    def _index_for(self, space: str, dim: int) -> VectorIndex:
        gen = self.store.generation()
        cached = self._indexes.get(space)
        if cached is not None and cached[0] == gen:
            return cached[1]
        ids, vecs = load_space(self.store, space, dim)
        idx = create_index(self.index_kind)
        idx.build(ids, vecs)
        self._indexes[space] = (gen, idx)
        return idx

    def _encoder_for(self, space: str) -> Encoder:
        rec = self.store.spaces()[space]
        enc = get_encoder(space)
        if enc.spec.fingerprint() != rec.fingerprint:
            raise EncoderMismatchError(
                f"space {space!r} was built with {rec.spec.weights} (dim {rec.dim}) but the "
                f"installed encoder is {enc.spec.weights} (dim {enc.spec.dim}); re-index the "
                "collection with this encoder into a new collection"
            )
        return enc

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
        names = self.encoder_names()
        limits = decode_limits(
            DEFAULT_LIMITS,
            [get_encoder(n) for n in names if not is_extractor(n)],
            [get_extractor(n) for n in names if is_extractor(n)],
        )
        result = prepare(ref, limits, None, None, {})
        if not isinstance(result, Prepared) or result.image is None:
            reason = getattr(result, "reason", "cannot decode")
            raise UsageError(f"query image {term.value}: {reason}")
        return result

    def _query_images(self, query: Query) -> dict[str, Prepared]:
        """Each image term decoded once per search, however many spaces read it."""
        return {t.value: self._image_term_inputs(t) for t in query.images()}

    def query_vectors(
        self,
        query: Query,
        spaces: Sequence[str],
        images: Mapping[str, Prepared] | None = None,
    ) -> dict[str, np.ndarray]:
        """The query's vector in each of ``spaces`` that can embed at least one of its terms.

        Image terms enter image spaces by their pixels and text spaces by the words attached
        to them (sidecar, EXIF/XMP, file name), so a picture also finds text about it.
        """
        if images is None:
            images = self._query_images(query)
        out: dict[str, np.ndarray] = {}
        for space in spaces:
            enc = self._encoder_for(space)
            if enc.lexical:
                continue
            parts: list[tuple[float, np.ndarray]] = []
            texts = [t for t in query.texts()]
            if enc.accepts(Modality.TEXT) and texts:
                vecs = enc.encode_texts([t.value for t in texts], role="query")
                parts.extend((t.weight, v) for t, v in zip(texts, vecs, strict=True))
            for t in query.images():
                prep = images[t.value]
                if enc.accepts(Modality.IMAGE) and prep.image is not None:
                    parts.append((t.weight, enc.encode_images([prep.image])[0]))
                elif enc.accepts(Modality.TEXT) and prep.text.strip():
                    parts.append((t.weight, enc.encode_texts([prep.text], role="query")[0]))
            if not any(w > 0 for w, _ in parts):
                continue
            vec = np.sum(np.stack([w * v for w, v in parts]), axis=0, dtype=np.float32)
            out[space] = l2_normalize(vec.reshape(1, -1))[0]
        return out

    def _keyword_match(
        self, query: Query, space: str, images: Mapping[str, Prepared]
    ) -> str | None:
        """An FTS5 expression: any positive term's words, none of a negative term's. Image
        terms contribute the words attached to the image."""
        enc = self._encoder_for(space)
        pos: list[str] = []
        neg: list[str] = []
        for t in query.terms:
            text = t.value if t.kind == "text" else images[t.value].text
            words = {w for w in enc.analyze(text)}
            (pos if t.weight > 0 else neg).extend(sorted(words))
        if not pos:
            return None

        def quoted(ws: list[str]) -> str:
            return " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(ws))

        return f"({quoted(pos)})" + (f" NOT ({quoted(neg)})" if neg else "")

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
        q = parse_query(query) if isinstance(query, str) else query
        terms = list(q.terms) if q else []
        if image is not None:
            terms.append(Term("image", os.fspath(image), 1.0))
        if not terms:
            raise UsageError("nothing to search for: give a query, --image, or both")
        q = Query(tuple(terms))
        known = self.store.spaces()
        if not known:
            raise UsageError(f"collection {self.root} has nothing indexed yet; run `xmodal index`")
        if model is not None:
            if model not in known:
                have = ", ".join(sorted(known)) or "none"
                raise UsageError(f"collection has no space {model!r}; it has: {have}")
            spaces = [model]
        else:
            spaces = sorted(known)
        images = self._query_images(q)
        qvecs = self.query_vectors(q, spaces, images)
        lexical = {
            s: m
            for s in spaces
            if self._encoder_for(s).lexical and (m := self._keyword_match(q, s, images))
        }
        if not qvecs and not lexical:
            raise UnembeddableQueryError(
                "no space in this collection can embed this query "
                f"(spaces: {', '.join(spaces) or 'none'})"
            )
        allowed = None
        if filters is not None and not filters.is_empty():
            allowed = self.store.allowed_segments(filters)
        # several segments of one item may rank before the next item: look deeper than k
        depth = max(4 * k, 50)
        segment_rankings: dict[str, list[tuple[int, float]]] = {}
        for space, qv in qvecs.items():
            idx = self._index_for(space, known[space].dim)
            scores, seg_ids = idx.search(qv[None, :], min(depth, len(idx)), allowed)
            valid = seg_ids[0] >= 0
            segment_rankings[space] = list(
                zip(seg_ids[0][valid].tolist(), scores[0][valid].tolist(), strict=True)
            )
        for space, match in lexical.items():
            segment_rankings[space] = self.store.lexical_search(match, depth, filters)
        # segments resolved once: a writer may replace an item between two lookups
        resolved = self.store.resolve_segments(
            sid for ranking in segment_rankings.values() for sid, _ in ranking
        )
        rankings: dict[str, list[tuple[str, float]]] = {}
        best_segment: dict[tuple[str, str], int] = {}
        for space, seg_ranking in segment_rankings.items():
            item_ranking: list[tuple[str, float]] = []
            for sid, score in seg_ranking:
                ref = resolved.get(sid)
                if ref is None or (space, ref.item.id) in best_segment:
                    continue
                best_segment[(space, ref.item.id)] = sid
                item_ranking.append((ref.item.id, score))
            rankings[space] = item_ranking
        fused = fuse(rankings, fusion, weights)[:k]
        seg_for_item: dict[str, int] = {}
        for f in fused:
            top_space = max(f.per_space, key=lambda s: f.per_space[s])
            seg_for_item[f.key] = best_segment[(top_space, f.key)]
        hits = []
        for f in fused:
            ref = resolved[seg_for_item[f.key]]
            snippet = ref.segment.text if ref.item.modality is Modality.TEXT else ref.item.text
            hits.append(
                SearchHit(
                    id=ref.item.id,
                    path=ref.item.path,
                    score=f.score,
                    modality=ref.item.modality,
                    segment=ref.segment.ordinal,
                    start=ref.segment.start,
                    end=ref.segment.end,
                    text=snippet[:300],
                    spaces=f.per_space,
                )
            )
        return hits
