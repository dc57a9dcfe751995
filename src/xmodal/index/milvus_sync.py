"""A collection whose vectors are searched in Milvus: where they live, and keeping them there.

The collection records the target in its ``meta`` (``vectors``: a ``milvus://`` URL; absent
means the store's own indexes). The store stays the source of truth for items, text,
metadata and the vectors themselves, so a Milvus cluster that is lost or moved away costs a
re-upload, never data: each space is one Milvus collection, brought up to date with the store
from the vectors' stamps (``store/stamps.py``) as the on-disk indexes are (``persist.py``),
with what it holds recorded in a manifest in the user's cache. Milvus collections are named
after the space's snapshot key, so two collections never share one.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.atomic import atomic_file
from xmodal.index.milvus import MilvusIndex, MilvusTarget, parse_target
from xmodal.index.persist import index_folder
from xmodal.progress import ProgressFactory
from xmodal.store.snapshot import snapshot_folder
from xmodal.store.sqlite import Store
from xmodal.store.stamps import Stamped, read_all, read_changes

VECTORS_KEY = "vectors"
LOCAL = "local"
MANIFEST = "milvus.json"


def vectors_target(store: Store) -> MilvusTarget | None:
    """The Milvus target the collection's vectors are searched in, or None for local."""
    raw = store.get_meta(VECTORS_KEY)
    return parse_target(raw) if raw else None


def collection_name(store: Store, space: str) -> str:
    snap = snapshot_folder(store, space)
    key = snap.name if snap is not None else space.encode().hex()[:20]
    return f"xmodal_{key}"


def _manifest(folder: Path | None) -> dict[str, Any] | None:
    if folder is None:
        return None
    try:
        data = json.loads((folder / MANIFEST).read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _save(folder: Path | None, idx: MilvusIndex, now: Stamped) -> None:
    if folder is None:
        return
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        stamps = f"milvus-g{now.generation}.stamps.npz"
        with atomic_file(folder / stamps) as f:
            np.savez(f, ids=now.ids, stamps=now.stamps)
        manifest = {
            "target": idx.target.url,
            "collection": idx.collection,
            "generation": now.generation,
            "count": len(idx),
            "stamps": stamps,
        }
        with atomic_file(folder / MANIFEST) as f:
            f.write(json.dumps(manifest).encode())
        for path in folder.glob("milvus-g*.stamps.npz"):
            if path.name != stamps:
                path.unlink()


def open_milvus(
    store: Store,
    space: str,
    dim: int,
    target: MilvusTarget,
    progress: ProgressFactory | None = None,
) -> MilvusIndex:
    """The Milvus collection of ``space``, matching the store's current generation."""
    idx = MilvusIndex(target, collection_name(store, space))
    folder = index_folder(store, space)
    manifest = _manifest(folder)
    usable = (
        manifest is not None
        and folder is not None
        and manifest.get("target") == target.url
        and manifest.get("collection") == idx.collection
        and manifest.get("count") == len(idx)
        and idx.exists()
    )
    if usable and manifest is not None and folder is not None:
        if manifest["generation"] == store.generation():
            return idx
        try:
            with np.load(folder / manifest["stamps"]) as held:
                changes = read_changes(store, space, dim, held["ids"], held["stamps"])
        except (OSError, ValueError, KeyError):
            changes = None
        if changes is not None:
            idx.remove(changes.removed)
            idx.add(changes.added_ids, changes.added)
            if len(idx) == len(changes.now.ids):
                _save(folder, idx, changes.now)
                return idx
    # nothing known to match: upload the space again
    now, mat = read_all(store, space, dim)
    bar = progress(len(now.ids)) if progress is not None else None
    idx.build(now.ids, mat.reshape(-1, dim), bar)
    if bar is not None:
        bar.close()
    _save(folder, idx, now)
    return idx


def vector_spaces(store: Store) -> dict[str, int]:
    return {name: rec.dim for name, rec in store.spaces().items() if rec.dim}


def place_vectors(store: Store, to: str) -> None:
    """Record where the vectors are searched (``milvus://...`` or ``local``); the next
    refresh of the indexes uploads them."""
    if to == LOCAL:
        if vectors_target(store) is not None:
            move_vectors(store, LOCAL)
        return
    store.set_meta(VECTORS_KEY, parse_target(to).url)


def move_vectors(store: Store, to: str, progress: ProgressFactory | None = None) -> dict[str, Any]:
    """Search the collection's vectors in ``to`` (a ``milvus://`` URL) or back here (``local``).

    Moving to Milvus uploads every vector space and records the target only once all are
    there; moving back records local search and drops the Milvus collections."""
    spaces = vector_spaces(store)
    if to == LOCAL:
        old = vectors_target(store)
        store.set_meta(VECTORS_KEY, "")
        if old is not None:
            for name in spaces:
                MilvusIndex(old, collection_name(store, name)).drop()
        return {"vectors": LOCAL, "spaces": {name: None for name in spaces}}
    target = parse_target(to)
    counts = {
        name: len(open_milvus(store, name, dim, target, progress)) for name, dim in spaces.items()
    }
    store.set_meta(VECTORS_KEY, target.url)
    return {"vectors": target.url, "spaces": counts}
