"""The vector index interface and its registry.

An index holds row-aligned (id, vector) pairs of one space and answers inner-product top-k
queries, optionally restricted to a set of allowed ids. Vectors are L2-normalised upstream,
so inner product is cosine similarity.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from xmodal.errors import UsageError


class VectorIndex(ABC):
    name: str = ""

    @abstractmethod
    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents with ``ids`` (int64) and their ``vectors`` (float32, n x d)."""

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` by inner product for each query row: (scores, ids), best first.

        Rows with fewer than ``k`` candidates are padded with score ``-inf`` and id ``-1``.
        ``allowed`` (int64 ids) restricts the candidates; ``None`` means all.
        """

    @abstractmethod
    def __len__(self) -> int: ...


_REGISTRY: dict[str, Callable[[], VectorIndex]] = {}

DEFAULT_INDEX = "flat"


def register_index(name: str) -> Callable[[type[VectorIndex]], type[VectorIndex]]:
    def deco(cls: type[VectorIndex]) -> type[VectorIndex]:
        if name in _REGISTRY:
            raise ValueError(f"index {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def create_index(name: str = DEFAULT_INDEX) -> VectorIndex:
    from xmodal.index import exact  # noqa: F401  (registers the built-in indexes)

    if name not in _REGISTRY:
        raise UsageError(f"unknown index {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]()


def index_names() -> list[str]:
    from xmodal.index import exact  # noqa: F401

    return sorted(_REGISTRY)


def pad(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    m, have = scores.shape
    if have >= k:
        return scores[:, :k], ids[:, :k]
    s = np.full((m, k), -np.inf, dtype=np.float32)
    i = np.full((m, k), -1, dtype=np.int64)
    s[:, :have] = scores
    i[:, :have] = ids
    return s, i
