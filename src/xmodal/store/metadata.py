"""Writing derived facts (tags, policy flags) into items' metadata, and reading which item
each segment belongs to.

Metadata is the item's JSON column: a key written here is replaced as a whole, other keys
stay as indexing wrote them. A changed file is re-indexed with fresh metadata, so what was
derived from its old content leaves with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from xmodal.store.sqlite import Store


def merge_metadata(store: Store, updates: Mapping[str, Mapping[str, Any]]) -> int:
    """Set the given keys of each item's metadata (``{item id: {key: value}}``), all in one
    transaction; a value of None removes its key. Returns how many items were updated (an id
    that is no longer in the store is passed over)."""
    n = 0
    with store.write() as c:
        for item_id, patch in updates.items():
            row = c.execute("SELECT metadata FROM items WHERE id=?", (item_id,)).fetchone()
            if row is None:
                continue
            meta = json.loads(row[0])
            for key, value in patch.items():
                if value is None:
                    meta.pop(key, None)
                else:
                    meta[key] = value
            c.execute(
                "UPDATE items SET metadata=? WHERE id=?",
                (json.dumps(meta, ensure_ascii=False), item_id),
            )
            n += 1
    return n


def segment_items(store: Store) -> dict[int, tuple[str, int]]:
    """``{segment id: (item id, segment ordinal)}`` for every segment of the store."""
    rows = store.conn.execute("SELECT id, item_id, ordinal FROM segments")
    return {int(r[0]): (str(r[1]), int(r[2])) for r in rows}
