"""What an index kept beside the store needs to catch up with it: each vector's stamp.

A vector only ever changes when its item is written again, and every write of an item sets
the item's ``indexed_at``; a segment id may be reused once its segment is gone. So the pair
(segment id, item's ``indexed_at``) names one vector for good: an index that remembers the
pairs it holds finds what was added, replaced and removed since by comparing them with the
store's, and reads only the vectors that are new. Each read runs in one transaction, so the
generation, the stamps and the vectors agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xmodal.store.sqlite import Store

_STAMPS = (
    "SELECT v.segment_id, i.indexed_at FROM vectors v JOIN segments s ON s.id = v.segment_id"
    " JOIN items i ON i.id = s.item_id WHERE v.space = ? ORDER BY v.segment_id"
)


@dataclass(frozen=True, slots=True)
class Stamped:
    """A space's vectors as of one generation: ids sorted, stamps row-aligned with them."""

    generation: int
    ids: np.ndarray
    stamps: np.ndarray


@dataclass(frozen=True, slots=True)
class Changes:
    """How a space moved on from the stamps an index holds."""

    now: Stamped
    removed: np.ndarray
    added_ids: np.ndarray
    added: np.ndarray


def vector_count(store: Store, space: str) -> int:
    row = store.conn.execute("SELECT COUNT(*) FROM vectors WHERE space=?", (space,)).fetchone()
    return int(row[0])


def _stamps(store: Store) -> Callable[[str], Stamped]:
    def read(space: str) -> Stamped:
        rows = store.conn.execute(_STAMPS, (space,)).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        stamps = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        return Stamped(store.generation(), ids, stamps)

    return read


def _vectors(store: Store, space: str, ids: np.ndarray, dim: int) -> np.ndarray:
    out = np.empty((len(ids), dim), dtype=np.float32)
    where = {int(s): n for n, s in enumerate(ids.tolist())}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500].tolist()
        rows = store.conn.execute(
            "SELECT segment_id, vector FROM vectors WHERE space=? AND segment_id IN"
            f" ({','.join('?' * len(chunk))})",
            [space, *chunk],
        )
        for sid, blob in rows:
            out[where[sid]] = np.frombuffer(blob, dtype=np.float32)
    return out


def read_changes(
    store: Store, space: str, dim: int, ids: np.ndarray, stamps: np.ndarray
) -> Changes:
    """What changed in ``space`` since an index held ``ids`` (sorted) with ``stamps``."""
    with store.read():
        now = _stamps(store)(space)
        keep_old = _matching(ids, stamps, now.ids, now.stamps)
        keep_new = _matching(now.ids, now.stamps, ids, stamps)
        added_ids = now.ids[~keep_new]
        added = _vectors(store, space, added_ids, dim)
    return Changes(now, ids[~keep_old], added_ids, added)


def _matching(
    ids: np.ndarray, stamps: np.ndarray, other: np.ndarray, other_st: np.ndarray
) -> np.ndarray:
    """Which of (``ids``, ``stamps``) also appear, same id and same stamp, in the other pair."""
    if len(other) == 0:
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(other, ids), len(other) - 1)
    return (other[pos] == ids) & (other_st[pos] == stamps)


def read_all(store: Store, space: str, dim: int) -> tuple[Stamped, np.ndarray]:
    """Every vector of ``space`` with its stamp, in one snapshot of the store."""
    with store.read():
        now = _stamps(store)(space)
        mat = np.empty((len(now.ids), dim), dtype=np.float32)
        rows = store.conn.execute(
            _STAMPS.replace("v.segment_id, i.indexed_at", "v.vector"), (space,)
        )
        for n, (blob,) in enumerate(rows):
            mat[n] = np.frombuffer(blob, dtype=np.float32)
    return now, mat
