"""Each space's vector index, built from its snapshot and kept while the store is unchanged."""

from __future__ import annotations

from xmodal.index.base import DEFAULT_INDEX, VectorIndex, create_index
from xmodal.store.snapshot import load_space
from xmodal.store.sqlite import Store


class IndexCache:
    def __init__(self, store: Store, kind: str = DEFAULT_INDEX) -> None:
        self.store = store
        self.kind = kind
        self._indexes: dict[str, tuple[int, VectorIndex]] = {}

    def get(self, space: str, dim: int) -> VectorIndex:
        """The index of ``space``, rebuilt when a write has changed the store since."""
        gen = self.store.generation()
        cached = self._indexes.get(space)
        if cached is not None and cached[0] == gen:
            return cached[1]
        ids, vecs = load_space(self.store, space, dim)
        idx = create_index(self.kind)
        idx.build(ids, vecs)
        self._indexes[space] = (gen, idx)
        return idx

    def clear(self) -> None:
        self._indexes.clear()
