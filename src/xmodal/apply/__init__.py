"""Applications of retrieval over a collection."""
