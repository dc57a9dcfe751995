"""Milvus as the vector index of a space: a milvus-lite file on this machine, or a cluster.

``milvus://PATH`` names a milvus-lite database file (embedded, for one machine and for tests);
``milvus://HOST:PORT`` (or ``milvus+https://HOST:PORT``) a Milvus server or cluster. Each
space is one Milvus collection of (segment id, vector) rows searched by inner product over a
FLAT index (exact, like the store's own search) unless the URI asks for another index type
(``?index=HNSW``). Filters are pushed down as a Milvus filter expression over the allowed ids,
so a filtered search costs Milvus the rows it lets through, not a client-side pass.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from xmodal.errors import UsageError
from xmodal.index.base import VectorIndex, pad, register_index
from xmodal.paths import cache_dir
from xmodal.progress import Progress

SCHEME = "milvus"
MISSING = "Milvus vectors need the milvus extra: pip install 'xmodal[milvus]'"
#: rows per insert call: well under Milvus's 64 MB gRPC message at 4 kB a vector
INSERT_ROWS = 2_000
#: Milvus answers at most this many hits per query
MAX_LIMIT = 16_384


@dataclass(frozen=True, slots=True)
class MilvusTarget:
    """Where the vectors live: a URI the Milvus client takes, and the index type to build."""

    uri: str
    index_type: str = "FLAT"

    @property
    def url(self) -> str:
        """The ``milvus://`` form, as the collection records it."""
        if self.uri.startswith(("http://", "https://")):
            scheme = "milvus+https" if self.uri.startswith("https") else SCHEME
            rest = self.uri.split("://", 1)[1]
        else:
            scheme, rest = SCHEME, self.uri
        query = "" if self.index_type == "FLAT" else f"?index={self.index_type}"
        return f"{scheme}://{rest}{query}"


def parse_target(text: str) -> MilvusTarget:
    """``milvus://PATH`` (milvus-lite file), ``milvus://HOST:PORT`` or ``milvus+https://...``."""
    m = re.fullmatch(r"(milvus|milvus\+https)://([^?]+)(?:\?(.*))?", text.strip())
    if m is None:
        raise UsageError(f"{text!r}: give milvus://PATH.db or milvus://HOST:PORT")
    scheme, rest, query = m.group(1), m.group(2), m.group(3) or ""
    index_type = (parse_qs(query).get("index") or ["FLAT"])[0].upper()
    if re.fullmatch(r"[\w.-]+:\d+(/.*)?", rest):
        return MilvusTarget(("https://" if "https" in scheme else "http://") + rest, index_type)
    path = os.path.abspath(os.path.expanduser(rest))
    if not path.endswith(".db"):
        raise UsageError(f"{text!r}: a milvus-lite file name must end in .db")
    return MilvusTarget(path, index_type)


def client(target: MilvusTarget) -> Any:
    """A Milvus client for ``target`` (milvus-lite starts its embedded server on first use)."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise UsageError(MISSING) from None
    if not target.uri.startswith(("http://", "https://")):
        os.makedirs(os.path.dirname(target.uri), exist_ok=True)
    return MilvusClient(uri=target.uri)


def default_target() -> MilvusTarget:
    """Where an index made without a target keeps its rows: a milvus-lite file in the cache."""
    return MilvusTarget(str(cache_dir() / "milvus" / "scratch.db"))


@register_index("milvus")
class MilvusIndex(VectorIndex):
    """One Milvus collection of (segment id, vector) rows."""

    def __init__(self, target: MilvusTarget | None = None, collection: str = "") -> None:
        self.target = target or default_target()
        self.collection = collection or f"xmodal_scratch_{secrets.token_hex(6)}"
        self._client = client(self.target)
        self._count = self._stored_count()
        #: a collection another process made is released until loaded into this server
        self._loaded = False

    def _stored_count(self) -> int:
        if not self._client.has_collection(self.collection):
            return 0
        stats = self._client.get_collection_stats(self.collection)
        return int(stats.get("row_count", 0))

    def __len__(self) -> int:
        return self._count

    def exists(self) -> bool:
        return bool(self._client.has_collection(self.collection))

    def drop(self) -> None:
        if self.exists():
            self._client.drop_collection(self.collection)
        self._count = 0

    def _create(self, dim: int) -> None:
        from pymilvus import DataType

        schema = self._client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        params = self._client.prepare_index_params()
        params.add_index("vector", index_type=self.target.index_type, metric_type="IP")
        self._client.create_collection(
            self.collection, schema=schema, index_params=params, consistency_level="Strong"
        )

    def build(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        self.drop()
        self._create(int(np.asarray(vectors).shape[1]))
        self.add(ids, vectors, progress)

    def add(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        """Insert or replace the rows of ``ids``."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        for start in range(0, len(ids), INSERT_ROWS):
            rows = [
                {"id": int(i), "vector": v}
                for i, v in zip(
                    ids[start : start + INSERT_ROWS],
                    vectors[start : start + INSERT_ROWS],
                    strict=True,
                )
            ]
            self._client.upsert(self.collection, rows)
            if progress is not None:
                progress.update(len(rows))
        self._count = self._stored_count()

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        for start in range(0, len(ids), INSERT_ROWS):
            self._client.delete(self.collection, ids=ids[start : start + INSERT_ROWS].tolist())
        self._count = self._stored_count()

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        empty = pad(np.empty((len(q), 0), np.float32), np.empty((len(q), 0), np.int64), k)
        if k <= 0 or self._count == 0 or not self.exists():
            return empty
        expr = ""
        if allowed is not None:
            wanted = np.unique(np.asarray(allowed, dtype=np.int64))
            if len(wanted) == 0:
                return empty
            expr = f"id in [{','.join(map(str, wanted.tolist()))}]"
        if not self._loaded:
            self._client.load_collection(self.collection)
            self._loaded = True
        found = self._client.search(
            self.collection,
            data=list(q),
            limit=min(k, self._count, MAX_LIMIT),
            filter=expr,
            output_fields=["id"],
            search_params={"metric_type": "IP"},
        )
        width = max((len(hits) for hits in found), default=0)
        scores = np.full((len(q), width), -np.inf, dtype=np.float32)
        ids = np.full((len(q), width), -1, dtype=np.int64)
        for row, hits in enumerate(found):
            for col, hit in enumerate(hits):
                scores[row, col] = hit["distance"]
                ids[row, col] = hit["id"]
        return pad(scores, ids, k)
