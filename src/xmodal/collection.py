"""``Collection``: the library's front door. Index folders, search them, remove items."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from xmodal.catalogue import AUTO, holds_audio, resolve_auto
from xmodal.closing import Closing
from xmodal.encoders.base import Encoder, TextExtractor
from xmodal.encoders.registry import get_encoder, get_extractor, info, is_extractor
from xmodal.errors import UsageError
from xmodal.index.base import DEFAULT_INDEX
from xmodal.index.cache import IndexCache
from xmodal.index.choice import IndexSettings, save_settings
from xmodal.index.milvus_sync import place_vectors
from xmodal.ingest.commits import DEFAULT_COMMIT_EVERY
from xmodal.ingest.distributed import run_index_ray
from xmodal.ingest.pipeline import IndexOptions, run_index
from xmodal.ingest.prepare import Prepared
from xmodal.ingest.video import prune_thumbnails
from xmodal.progress import ProgressFactory
from xmodal.query.filters import Filters
from xmodal.query.fusion import FusionMethod
from xmodal.query.negation import parse_natural
from xmodal.query.parse import Query, Term
from xmodal.query.refine import refined_search
from xmodal.records import IndexReport, Item, Modality, SearchHit
from xmodal.spaces.searcher import Searcher, SearchRequest
from xmodal.store.lock import WriteLock
from xmodal.store.sqlite import Store

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
        #: spaces bound by earlier searches stay bound: repeated queries load no model again
        self.searcher = Searcher(store, self.indexes, self.encoder_names)

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

    def _holds_audio(self) -> bool:
        """Whether the collection holds sound: recordings, or videos with soundtracks."""
        return bool({Modality.AUDIO, Modality.VIDEO} & self.modalities())

    def hears(self) -> bool:
        """Whether a recording can be a query: a space embeds sound, or speech recognition
        turns what is said into words for the text spaces."""
        return any(Modality.AUDIO in info(n).modalities for n in self.encoder_names())

    def modalities(self) -> frozenset[Modality]:
        """The modalities of the items the collection holds."""
        return self.store.modalities()

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
        commit_every: float = DEFAULT_COMMIT_EVERY,
        index_settings: IndexSettings | None = None,
        ray: str | None = None,
        vectors: str | None = None,
    ) -> IndexReport:
        """Index or re-index ``paths``: new and changed files are embedded, unchanged ones
        skipped without decoding, moved ones keep their vectors, removed ones leave.

        ``models`` adds spaces to the collection; by default the collection keeps the
        encoders it was built with, and a new one is built with ``auto`` (the best set
        available offline; ``notes`` says which).

        Work is committed every ``commit_every`` seconds; on Ctrl-C the run commits what it
        has encoded and raises ``IndexInterrupted``, and the same call again does the rest.

        ``index_settings`` sets which vector index the spaces keep (kept with the collection;
        by default ``auto``, by size); approximate indexes are brought up to date at the end.

        ``ray`` (a Ray address, or ``local``) has the files decoded and embedded by a Ray
        cluster's workers (``ingest/distributed.py``); ``vectors`` (``milvus://...`` or
        ``local``) says where the collection's vectors are searched, kept with it.
        """
        roots = [os.path.abspath(os.path.expanduser(os.fspath(p))) for p in paths]
        with WriteLock(self.root, wait=wait):
            names = self._space_names(models, roots)
            encoders, extractors = _load_parts(names)
            for enc in encoders:
                self.store.ensure_space(enc.spec)
            self.store.set_meta(_ENCODERS_KEY, json.dumps(names))
            known_roots = json.loads(self.store.get_meta(_ROOTS_KEY) or "[]")
            self.store.set_meta(_ROOTS_KEY, json.dumps(sorted({*known_roots, *roots})))
            if index_settings is not None:
                save_settings(self.store, index_settings)
            if vectors is not None:
                place_vectors(self.store, vectors)
            runner = run_index if ray is None else partial(run_index_ray, address=ray)
            try:
                report = runner(
                    self.store,
                    roots,
                    encoders,
                    options or IndexOptions(),
                    progress,
                    extractors,
                    commit_every=commit_every,
                )
            finally:
                # an interrupted run has committed part of its work
                self.indexes.clear()
            self.indexes.refresh()
        return report

    def _space_names(self, models: Sequence[str] | None, roots: Sequence[str]) -> list[str]:
        """The encoders the collection keeps after this run: the ones it has, plus ``models``
        (``auto`` stands for the best set available offline for what ``roots`` hold)."""
        names = self.encoder_names()
        requested = list(models or ([] if names else [AUTO]))
        if AUTO in requested:
            chosen, note = resolve_auto(holds_audio(roots) or self._holds_audio())
            self.notes.append(note)
            at = requested.index(AUTO)
            requested[at : at + 1] = chosen
        for m in requested:
            # the canonical name (an absolute path for a fitted model) reopens anywhere
            m = get_extractor(m).name if is_extractor(m) else get_encoder(m).spec.name
            if m not in names:
                names.append(m)
        return names

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
            prune_thumbnails(self.store)
            self.indexes.refresh()
        return n

    # -- searching -------------------------------------------------------------------------

    def query_vectors(
        self,
        query: Query,
        spaces: Sequence[str],
        images: Mapping[str, Prepared] | None = None,
    ) -> dict[str, np.ndarray]:
        """The query's vector in each of ``spaces`` that can embed at least one of its terms
        (keyword spaces make none)."""
        return self.searcher.query_vectors(query, spaces, images)

    def _full_query(
        self,
        query: str | Query | None,
        image: str | os.PathLike[str] | None,
        audio: str | os.PathLike[str] | None = None,
        video: str | os.PathLike[str] | None = None,
    ) -> Query:
        q = parse_natural(query) if isinstance(query, str) else query
        terms = list(q.terms) if q else []
        if image is not None:
            terms.append(Term("image", os.fspath(image), 1.0))
        if audio is not None:
            terms.append(Term("audio", os.fspath(audio), 1.0))
        if video is not None:
            terms.append(Term("video", os.fspath(video), 1.0))
        if not terms:
            raise UsageError(
                "nothing to search for: give a query, --image, --audio, --video, or both"
            )
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
        min_score: float | None = None,
        use_name: bool = False,
        expand: bool = False,
        exact: bool = False,
        audio: str | os.PathLike[str] | None = None,
        group_files: bool = False,
        video: str | os.PathLike[str] | None = None,
    ) -> list[SearchHit]:
        """Search with text, an image, or a mixed weighted query; best first.

        Each space ranks items by their best segment; the rankings are fused (reciprocal-rank
        fusion by default). ``model`` restricts the search to one space. Scores follow one
        scale per fusion mode (``xmodal.query.fusion.SCORE_SCALES``); hits scoring below
        ``min_score`` are dropped, so fewer than ``k`` may come back. A query image enters by
        its pixels and the words that belong to it, its file name only with ``use_name``.

        A negation in words ("a cat without glasses", "不要红色的车") is read as negative
        terms, and hits that mention a negated term rank below those that do not;
        ``expand`` adds the first pass's best hits to the query (pseudo-relevance feedback).
        ``exact`` searches every vector exactly, whatever index a space keeps.
        A recording (``audio``, or ``aud:PATH`` terms) enters audio spaces by its sound and
        text spaces by the speech heard in it. Moments of one recording rank apart, each hit
        with ``start``/``end``; ``group_files`` keeps the best moment per file.
        A video clip (``video``, or ``vid:PATH`` terms) is cut into windows as indexing cuts
        videos and ranks videos by the best in-order alignment of its windows to theirs in
        each picture space, each hit the moment the clip aligns to; text spaces read the
        words captioned, said or shown in it.
        """
        if k <= 0:
            raise UsageError("k must be positive")
        request = SearchRequest(
            self._full_query(query, image, audio, video),
            k,
            model,
            filters,
            fusion,
            weights,
            min_score,
            use_name,
            exact,
            group_files,
        )

        def run(q: Query, n: int) -> list[SearchHit]:
            return self.searcher.search(replace(request, query=q, k=n))

        return refined_search(run, request.query, k, expand)


def _load_parts(names: Sequence[str]) -> tuple[list[Encoder], list[TextExtractor]]:
    """The encoders (one per space) and the text extractors among ``names``."""
    encoders = [get_encoder(n) for n in names if not is_extractor(n)]
    extractors = [get_extractor(n) for n in names if is_extractor(n)]
    return encoders, extractors
