"""Per-space vector snapshots on disk, so a search process does not re-read every vector
from SQLite. A snapshot is derived data keyed by the store's generation: stale ones are
rebuilt, half-written ones are never read (written to a temporary name, then renamed)."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import numpy as np

from xmodal.atomic import atomic_file
from xmodal.store.sqlite import Store

SNAPSHOT_DIR = "snapshots"


def _slug(space: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in space)
    return f"{safe}-{hashlib.sha1(space.encode()).hexdigest()[:8]}"


def _paths(folder: Path, space: str, gen: int) -> tuple[Path, Path]:
    base = f"{_slug(space)}.g{gen}"
    return folder / f"{base}.ids.npy", folder / f"{base}.vec.npy"


def _atomic_save(path: Path, arr: np.ndarray) -> None:
    with atomic_file(path) as f:
        np.save(f, arr)


def load_space(store: Store, space: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(segment ids, vectors) of ``space`` as of the store's current generation."""
    folder = store.root / SNAPSHOT_DIR
    gen = store.generation()
    ids_path, vec_path = _paths(folder, space, gen)
    if ids_path.exists() and vec_path.exists():
        try:
            ids = np.load(ids_path)
            vecs = np.load(vec_path, mmap_mode="r")
            if vecs.shape == (len(ids), dim):
                return ids, np.asarray(vecs)
        except (OSError, ValueError):
            pass
    gen, ids, vecs = store.load_vectors(space, dim)
    try:
        folder.mkdir(exist_ok=True)
        ids_path, vec_path = _paths(folder, space, gen)
        _atomic_save(ids_path, ids)
        _atomic_save(vec_path, vecs)
        for old in folder.glob(f"{_slug(space)}.g*.npy"):
            if old not in (ids_path, vec_path):
                with contextlib.suppress(OSError):
                    old.unlink()
    except OSError:
        pass  # a read-only collection still searches, just without a snapshot
    return ids, vecs
