"""Each space's vector index, kept while the store is unchanged.

Which index a space gets follows the collection's index setting (``index/choice.py``): exact
spaces are built from their vector snapshot in each process, approximate ones are kept on
disk and brought up to date in place (``index/persist.py``); a collection whose vectors are
searched in Milvus gets its Milvus collections, kept up to date the same way
(``index/milvus_sync.py``).
"""

from __future__ import annotations

from xmodal.index.base import DEFAULT_INDEX, VectorIndex, create_index
from xmodal.index.choice import IndexChoice, choose, load_settings
from xmodal.index.milvus_sync import open_milvus, vectors_target
from xmodal.index.persist import open_index
from xmodal.progress import ProgressFactory
from xmodal.store.snapshot import load_space
from xmodal.store.sqlite import Store
from xmodal.store.stamps import vector_count


class IndexCache:
    def __init__(self, store: Store, kind: str = DEFAULT_INDEX) -> None:
        self.store = store
        #: the back end of exact spaces
        self.kind = kind
        #: where building an approximate index from the store reports (a CLI sets a bar)
        self.progress: ProgressFactory | None = None
        self._indexes: dict[tuple[str, bool], tuple[int, VectorIndex]] = {}

    def choice(self, space: str, dim: int) -> IndexChoice:
        """The kind of index ``space`` gets now, by the setting and the space's size."""
        return choose(load_settings(self.store), vector_count(self.store, space), dim)

    def get(self, space: str, dim: int, exact: bool = False) -> VectorIndex:
        """The index of ``space`` (exact with ``exact``), up to date with the store."""
        gen = self.store.generation()
        cached = self._indexes.get((space, exact))
        if cached is not None and cached[0] == gen:
            return cached[1]
        choice = None if exact else self.choice(space, dim)
        remote = None if exact else vectors_target(self.store)
        idx: VectorIndex
        if remote is not None:
            idx = open_milvus(self.store, space, dim, remote, self.progress)
        elif choice is None or choice.kind == "exact":
            ids, vecs = load_space(self.store, space, dim)
            idx = create_index(self.kind)
            idx.build(ids, vecs)
        else:
            idx = open_index(self.store, space, dim, choice, self.progress)
        self._indexes[(space, exact)] = (gen, idx)
        return idx

    def refresh(self) -> None:
        """Bring every approximate index of the collection up to date (after a write)."""
        self.clear()
        for name, record in self.store.spaces().items():
            remote = vectors_target(self.store) is not None
            if record.dim and (remote or self.choice(name, record.dim).kind != "exact"):
                self.get(name, record.dim)

    def clear(self) -> None:
        self._indexes.clear()
