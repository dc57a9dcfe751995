"""Approximate indexes kept on disk between runs, keyed by the store's generation.

They live in the user's cache (``<cache>/indexes``, keyed like the vector snapshots), so a
read-only collection is searched the same way. A folder holds one manifest per kind
(``hnsw.json``): the generation it matches, the parameters, and the files it needs. Files are
written under new names and the manifest is replaced last, atomically, so a reader (or the
run after a kill) sees the old index or the new one, never half of one. An index whose
generation is behind the store's catches up in place from the vectors' stamps
(``store/stamps.py``); a missing, unreadable or mismatched one is built again from the store.
The store always wins: whatever the files say, the index searched matches the store's
current generation. Updates take a lock on the folder, so two processes never append to the
same file at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.atomic import atomic_file
from xmodal.index.base import create_index
from xmodal.index.choice import IndexChoice
from xmodal.index.updatable import UpdatableIndex
from xmodal.paths import cache_dir
from xmodal.progress import ProgressFactory
from xmodal.store.snapshot import snapshot_folder
from xmodal.store.sqlite import Store
from xmodal.store.stamps import Stamped, read_all, read_changes

INDEX_DIR = "indexes"
#: past this share of the index changed, a rebuild is cheaper than catching up
MAX_CHANGED_SHARE = 0.5


def index_folder(store: Store, space: str) -> Path | None:
    snap = snapshot_folder(store, space)
    return None if snap is None else cache_dir() / INDEX_DIR / snap.name


def new_index(choice: IndexChoice, folder: Path | None) -> UpdatableIndex:
    idx = create_index(choice.kind)
    assert isinstance(idx, UpdatableIndex), f"{choice.kind} is not an approximate index"
    for key, value in choice.params.items():
        setattr(idx, key, value)
    if folder is not None and hasattr(idx, "workdir"):
        idx.workdir = folder  # its vector file is written in place, not copied on save
    return idx


def _manifest(folder: Path, kind: str) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / f"{kind}.json").read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _load(
    folder: Path, choice: IndexChoice, manifest: dict[str, Any], mmap: bool
) -> UpdatableIndex | None:
    """The index the manifest names, or None when it is not the one wanted or will not read."""
    idx = new_index(choice, folder)
    if manifest.get("params") != idx.params() or manifest.get("dim") is None:
        return None
    try:
        idx.load(folder, list(manifest["files"]), mmap)
    except Exception:  # any damage to the files means: build it again
        return None
    return idx if len(idx) == manifest.get("count") else None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def open_index(
    store: Store,
    space: str,
    dim: int,
    choice: IndexChoice,
    progress: ProgressFactory | None = None,
) -> UpdatableIndex:
    """The ``choice.kind`` index of ``space``, matching the store's current generation."""
    folder = index_folder(store, space)
    if folder is not None:
        manifest = _manifest(folder, choice.kind)
        if manifest is not None and manifest.get("generation") == store.generation():
            found = _load(folder, choice, manifest, mmap=True)
            if found is not None:
                return found
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
            with _locked(folder):
                return _catch_up(store, space, dim, choice, folder, progress)
    # no writable cache: an index of this process alone
    now, mat = read_all(store, space, dim)
    idx = new_index(choice, None)
    _build(idx, now.ids, mat, progress)
    return idx


def _catch_up(
    store: Store,
    space: str,
    dim: int,
    choice: IndexChoice,
    folder: Path,
    progress: ProgressFactory | None,
) -> UpdatableIndex:
    manifest = _manifest(folder, choice.kind)
    idx = None if manifest is None else _load(folder, choice, manifest, mmap=False)
    if idx is not None and manifest is not None:
        if manifest["generation"] == store.generation():
            return idx
        with np.load(folder / manifest["stamps"]) as held:
            changes = read_changes(store, space, dim, held["ids"], held["stamps"])
        changed = len(changes.removed) + len(changes.added_ids)
        if changed <= MAX_CHANGED_SHARE * max(len(idx), 1):
            idx.remove(changes.removed)
            idx.add(changes.added_ids, changes.added)
            if not idx.needs_rebuild():
                _save(idx, folder, choice, dim, changes.now)
                return idx
    now, mat = read_all(store, space, dim)
    idx = new_index(choice, folder)
    _build(idx, now.ids, mat, progress)
    _save(idx, folder, choice, dim, now)
    return idx


def _build(
    idx: UpdatableIndex, ids: np.ndarray, mat: np.ndarray, progress: ProgressFactory | None
) -> None:
    bar = progress(len(ids)) if progress is not None else None
    idx.build(ids, mat, bar)
    if bar is not None:
        bar.close()


def _save(idx: UpdatableIndex, folder: Path, choice: IndexChoice, dim: int, now: Stamped) -> None:
    tag = f"{choice.kind}-g{now.generation}-{secrets.token_hex(4)}"
    files = idx.save(folder, tag)
    stamps = f"{tag}.stamps.npz"
    with atomic_file(folder / stamps) as f:
        np.savez(f, ids=now.ids, stamps=now.stamps)
    manifest = {
        "kind": choice.kind,
        "generation": now.generation,
        "params": idx.params(),
        "dim": dim,
        "count": len(idx),
        "files": files,
        "stamps": stamps,
    }
    with atomic_file(folder / f"{choice.kind}.json") as f:
        f.write(json.dumps(manifest).encode())
    keep = {*files, stamps, ".lock"}
    for path in folder.iterdir():
        if path.name.startswith(f"{choice.kind}-") and path.name not in keep:
            with contextlib.suppress(OSError):
                path.unlink()
