"""Vector indexes behind one interface."""

from xmodal.index import exact, hnsw, ivfpq, milvus  # noqa: F401  (each registers its back end)
from xmodal.index.base import DEFAULT_INDEX, VectorIndex, create_index, index_names

__all__ = ["DEFAULT_INDEX", "VectorIndex", "create_index", "index_names"]
