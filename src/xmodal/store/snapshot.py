"""Per-space vector snapshots, so a search process does not re-read every vector from SQLite.

A snapshot is derived data and lives in the user's cache (``<cache>/snapshots``), never in the
collection's folder, so searching writes nothing there and a read-only collection searches
the same way. It is keyed by the collection's real path, the space and the moment the space
was created (a collection made again at the same path gets new keys), and by the store's
generation, so stale ones are rebuilt; half-written ones are never read (written to a
temporary name, then renamed)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np

from xmodal.atomic import atomic_file
from xmodal.paths import cache_dir
from xmodal.store.sqlite import Store

SNAPSHOT_DIR = "snapshots"


def snapshot_folder(store: Store, space: str) -> Path | None:
    """Where the snapshots of ``space`` go; None when the store does not know the space."""
    created = store.space_created_at(space)
    if created is None:
        return None
    key = f"{os.path.realpath(store.root)}\0{space}\0{created!r}"
    return cache_dir() / SNAPSHOT_DIR / hashlib.sha1(key.encode()).hexdigest()[:20]


def _paths(folder: Path, gen: int) -> tuple[Path, Path]:
    return folder / f"g{gen}.ids.npy", folder / f"g{gen}.vec.npy"


def _atomic_save(path: Path, arr: np.ndarray) -> None:
    with atomic_file(path) as f:
        np.save(f, arr)


def _read(folder: Path, gen: int, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    ids_path, vec_path = _paths(folder, gen)
    if not (ids_path.exists() and vec_path.exists()):
        return None
    try:
        ids = np.load(ids_path)
        vecs = np.load(vec_path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return (ids, np.asarray(vecs)) if vecs.shape == (len(ids), dim) else None


def _write(folder: Path, gen: int, ids: np.ndarray, vecs: np.ndarray) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ids_path, vec_path = _paths(folder, gen)
        _atomic_save(ids_path, ids)
        _atomic_save(vec_path, vecs)
        for old in folder.glob("g*.npy"):
            if old not in (ids_path, vec_path):
                with contextlib.suppress(OSError):
                    old.unlink()
    except OSError:
        pass  # no writable cache: search still works, it reads the vectors each time


def load_space(store: Store, space: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(segment ids, vectors) of ``space`` as of the store's current generation."""
    folder = snapshot_folder(store, space)
    if folder is not None and (found := _read(folder, store.generation(), dim)) is not None:
        return found
    gen, ids, vecs = store.load_vectors(space, dim)
    if folder is not None:
        _write(folder, gen, ids, vecs)
    return ids, vecs
