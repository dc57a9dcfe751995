"""What the routes ask of the collection: one ``Collection`` per process, used by one request
at a time (its SQLite connection is shared), with every answer confined to the indexed roots.

An item whose real path lies outside the folders the collection was indexed from (a link
that was followed to ``/etc/passwd``) is not shown in results and not served, whatever the
index holds.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from xmodal.collection import Collection
from xmodal.errors import UsageError
from xmodal.info import collection_info
from xmodal.query.filters import Filters
from xmodal.query.parse import Query, Term, parse_query
from xmodal.records import Item, Modality, SearchHit, Segment
from xmodal.serve.security import confined, outside

#: term prefixes that name a file on the server; media are searched by upload instead
_PATH_PREFIX = re.compile(r"(?:img|image|aud|audio|vid|video):", re.IGNORECASE)
#: how much of a text item "more like this" searches with
_SIMILAR_CHARS = 1000


class NotFound(LookupError):
    """No item with this id that may be shown (the message never says which case it is)."""


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: Query | None
    k: int
    offset: int = 0
    model: str | None = None
    filters: Filters = field(default_factory=Filters)


@dataclass(frozen=True, slots=True)
class ItemView:
    item: Item
    segments: list[Segment]
    #: the file's real path when it may be read now, else ``None``
    file: str | None


def text_query(q: str | None) -> Query | None:
    """``q`` parsed, with every term that would read a file on the server refused."""
    if q is None or not q.strip():
        return None
    query = parse_query(q)
    for term in query.terms:
        if term.kind != "text" or _PATH_PREFIX.match(term.value):
            raise UsageError(
                "queries cannot name files on the server; to search by a picture, upload it"
                " (POST /api/search with the file in the field 'file')"
            )
    return query


class Service:
    def __init__(self, collection: Collection, max_depth: int) -> None:
        self.col = collection
        self.max_depth = max_depth
        self.lock = threading.Lock()
        self._frame_side: int | None = None

    def warm(self) -> None:
        """Load the encoders and the vector indexes now rather than on the first query."""
        try:
            with self.lock:
                self.col.search("warm", k=1)
        except UsageError:
            pass  # an empty collection, or spaces that embed no words: nothing to warm

    def roots(self) -> list[str]:
        with self.lock:
            return self.col.roots()

    def hears(self) -> bool:
        """Whether a recording can be searched here: some space embeds sound, or speech
        recognition turns it into words."""
        with self.lock:
            return self.col.hears()

    def search(
        self,
        request: SearchRequest,
        image: str | os.PathLike[str] | None,
        audio: str | os.PathLike[str] | None = None,
        video: str | os.PathLike[str] | None = None,
    ) -> list[SearchHit]:
        """Hits ``offset`` to ``offset + k``, those outside the roots left out; a deeper
        search replaces them so that a page stays full."""
        want = request.offset + request.k
        depth = want
        while True:
            with self.lock:
                hits = self.col.search(
                    request.query,
                    image=image,
                    audio=audio,
                    video=video,
                    k=depth,
                    model=request.model,
                    filters=request.filters,
                )
                roots = self.col.roots()
            kept = [h for h in hits if not outside(h.path, roots)]
            if len(kept) >= want or len(hits) < depth or depth >= self.max_depth:
                return kept[request.offset : want]
            depth = min(self.max_depth, depth * 2)

    def view(self, item_id: str) -> ItemView:
        with self.lock:
            item = self.col.get(item_id)
            segments = self.col.store.segments(item_id) if item is not None else []
            roots = self.col.roots()
        if item is None or outside(item.path, roots):
            raise NotFound(item_id)
        return ItemView(item, segments, confined(item.path, roots))

    def file_of(self, item_id: str) -> tuple[Item, str]:
        view = self.view(item_id)
        if view.file is None:
            raise NotFound(item_id)
        return view.item, view.file

    def similar(self, item_id: str, k: int) -> list[SearchHit]:
        view = self.view(item_id)
        image: str | None = None
        query: Query | None = None
        if view.item.modality is Modality.IMAGE:
            if view.file is None:
                raise NotFound(item_id)
            image = view.item.path
        else:
            words = next((s.text for s in view.segments if s.text.strip()), view.item.text)
            if not words.strip():
                return []
            query = Query((Term("text", words[:_SIMILAR_CHARS]),))
        hits = self.search(SearchRequest(query, k + 1), image)
        return [h for h in hits if h.id != item_id][:k]

    def info(self) -> dict[str, Any]:
        from xmodal import __version__

        with self.lock:
            out = collection_info(self.col).to_json()
        out["version"] = __version__
        return out

    def box_frame(self, item: Item) -> list[int] | None:
        """The size of the picture that OCR read, which its boxes are measured in: the
        original scaled down to the side the collection's encoders decode to."""
        width, height = item.metadata.get("width"), item.metadata.get("height")
        if not (isinstance(width, int) and isinstance(height, int)) or min(width, height) <= 0:
            return None
        scale = min(1.0, self._decode_side() / max(width, height))
        return [max(1, round(width * scale)), max(1, round(height * scale))]

    def _decode_side(self) -> int:
        if self._frame_side is None:
            from xmodal.encoders.registry import get_encoder, get_extractor, is_extractor
            from xmodal.ingest.pipeline import decode_limits
            from xmodal.media.limits import DEFAULT_LIMITS

            with self.lock:
                names = self.col.encoder_names()
            encoders = [get_encoder(n) for n in names if not is_extractor(n)]
            extractors = [get_extractor(n) for n in names if is_extractor(n)]
            self._frame_side = decode_limits(DEFAULT_LIMITS, encoders, extractors).max_side
        return self._frame_side
