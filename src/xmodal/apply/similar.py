"""More like this: the items nearest one item, optionally diversified by maximal marginal
relevance (MMR).

The item's own vectors are the query: in each vector space that holds one, the nearest items
are ranked by cosine, and the rankings fuse as a search's do (reciprocal rank). With
``diverse`` = d > 0 the list is then re-chosen greedily: each next pick maximises
``(1 - d) * relevance - d * (largest similarity to an item already picked)``, relevance being
the fused score and similarity the mean cosine over the spaces both items are in. ``d`` = 0 is
the plain ranking; ``d`` = 1 ignores relevance beyond the candidate pool.
"""

from __future__ import annotations

import math

import numpy as np

from xmodal.apply.vectors import ItemVectors, item_vectors, vector_spaces
from xmodal.errors import UsageError
from xmodal.query.filters import Filters
from xmodal.query.fusion import Fused, fuse_scaled
from xmodal.records import SearchHit
from xmodal.store.sqlite import Store

#: candidates considered for diversification, as a multiple of k
_POOL = 5


def similar(
    store: Store,
    item_id: str,
    k: int = 10,
    *,
    diverse: float = 0.0,
    filters: Filters | None = None,
) -> list[SearchHit]:
    """The ``k`` items most like ``item_id`` (itself left out), best first."""
    if k <= 0:
        raise UsageError("k must be positive")
    if not (math.isfinite(diverse) and 0.0 <= diverse <= 1.0):
        raise UsageError("diverse must be between 0 and 1")
    item = store.item(item_id)
    if item is None:
        raise UsageError(f"no item with id {item_id!r} in this collection")
    allowed = _allowed_items(store, filters)
    spaces = [
        v for r in vector_spaces(store) if (v := item_vectors(store, r)).row(item_id) is not None
    ]
    if not spaces:
        raise UsageError(f"item {item_id} has no vector in any space to compare with")
    rankings = {v.space: _ranking(v, item_id, allowed) for v in spaces}
    fused = fuse_scaled(rankings, "rrf", None)
    pool = fused[: max(_POOL * k, 50)] if diverse > 0 else fused[:k]
    chosen = _mmr(pool, spaces, k, diverse) if diverse > 0 else list(range(len(pool)))
    out = []
    for n in chosen:
        f = pool[n]
        it = store.item(f.key)
        if it is not None:
            out.append(
                SearchHit(
                    it.id, it.path, f.score, it.modality, text=it.text[:300], spaces=f.per_space
                )
            )
    return out


def _allowed_items(store: Store, filters: Filters | None) -> set[str] | None:
    if filters is None or filters.is_empty():
        return None
    where, params = filters.where()
    rows = store.conn.execute(f"SELECT i.id FROM items i WHERE {where}", params)
    return {str(r[0]) for r in rows}


def _ranking(vecs: ItemVectors, item_id: str, allowed: set[str] | None) -> list[tuple[str, float]]:
    row = vecs.row(item_id)
    assert row is not None
    sims = vecs.matrix @ vecs.matrix[row]
    order = np.argsort(-sims, kind="stable")
    return [
        (vecs.item_ids[n], float(sims[n]))
        for n in order.tolist()
        if vecs.item_ids[n] != item_id and (allowed is None or vecs.item_ids[n] in allowed)
    ]


def _pair_similarity(keys: list[str], spaces: list[ItemVectors]) -> np.ndarray:
    """Mean cosine between the items ``keys`` over the spaces holding both of a pair."""
    total = np.zeros((len(keys), len(keys)), dtype=np.float32)
    count = np.zeros_like(total)
    for v in spaces:
        rows = [v.row(key) for key in keys]
        present = np.array([r is not None for r in rows])
        mat = np.stack(
            [v.matrix[r] if r is not None else np.zeros(v.matrix.shape[1]) for r in rows]
        )
        both = np.outer(present, present)
        total += np.where(both, mat @ mat.T, 0.0)
        count += both
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def _mmr(pool: list[Fused], spaces: list[ItemVectors], k: int, diverse: float) -> list[int]:
    if not pool:
        return []
    sims = _pair_similarity([f.key for f in pool], spaces)
    rel = np.array([f.score for f in pool], dtype=np.float32)
    rel = rel / max(float(rel.max()), 1e-9)
    chosen = [0]
    left = set(range(1, len(pool)))
    while left and len(chosen) < k:
        redundancy = sims[:, chosen].max(axis=1)
        gain = (1 - diverse) * rel - diverse * redundancy
        best = max(left, key=lambda n: (gain[n], -n))
        chosen.append(best)
        left.remove(best)
    return chosen
