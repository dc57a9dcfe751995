"""Every vector of a few items in one space, read in one transaction: what comparing two
sequences of segments (a query clip's windows and a video's) needs beyond the index's
nearest neighbours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xmodal.store.sqlite import Store


@dataclass(frozen=True, slots=True)
class ItemVectors:
    """One item's segments that have a vector in the space, in segment order."""

    segment_ids: list[int]
    ordinals: list[int]
    starts: list[float]
    ends: list[float]
    vectors: np.ndarray


def item_vectors(
    store: Store, space: str, dim: int, item_ids: Sequence[str]
) -> dict[str, ItemVectors]:
    """The vectors of ``item_ids`` in ``space``; an item with none (or gone) is left out."""
    rows: dict[str, list[tuple[int, int, float, float, bytes]]] = {}
    with store.read() as c:
        for lo in range(0, len(item_ids), 500):
            chunk = list(item_ids[lo : lo + 500])
            found = c.execute(
                "SELECT s.item_id, s.id, s.ordinal, s.start, s.end, v.vector FROM segments s"
                " JOIN vectors v ON v.segment_id = s.id WHERE v.space = ? AND s.item_id IN"
                f" ({','.join('?' * len(chunk))}) ORDER BY s.item_id, s.ordinal",
                [space, *chunk],
            )
            for item, sid, ordinal, start, end, blob in found:
                rows.setdefault(item, []).append((sid, ordinal, start or 0.0, end or 0.0, blob))
    out: dict[str, ItemVectors] = {}
    for item, segs in rows.items():
        mat = np.stack([np.frombuffer(s[4], dtype=np.float32) for s in segs])
        if mat.shape[1] != dim:
            continue
        out[item] = ItemVectors(
            [s[0] for s in segs],
            [s[1] for s in segs],
            [s[2] for s in segs],
            [s[3] for s in segs],
            mat,
        )
    return out
