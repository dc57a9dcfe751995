from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from xmodal.encoders.base import EncoderSpec
from xmodal.errors import EncoderMismatchError, SchemaError, UsageError
from xmodal.query.filters import Filters
from xmodal.records import Modality, Segment
from xmodal.store.schema import SCHEMA_VERSION
from xmodal.store.snapshot import load_space, snapshot_folder
from xmodal.store.sqlite import DB_NAME, NewItem, Store

SPEC = EncoderSpec("toy", "w1", 4, frozenset({Modality.IMAGE}), {"size": 8})


def _item(path: str, n_segments: int = 1, mtime: float = 1.0, modality=Modality.IMAGE) -> NewItem:
    vecs = np.eye(4, dtype=np.float32)[:n_segments]
    return NewItem(
        path=path,
        modality=modality,
        content_hash="h" + path,
        size=1,
        mtime=mtime,
        signature="s",
        metadata={"k": "v"},
        text="words",
        segments=[Segment(i, f"seg {i}") for i in range(n_segments)],
        vectors={"toy": (list(range(n_segments)), vecs)},
        encoded=frozenset({"toy"}),
    )


def test_put_replace_delete_keeps_consistency(tmp_path: Path) -> None:
    s = Store(tmp_path / "c")
    s.ensure_space(SPEC)
    g0 = s.generation()
    [a, b] = s.put_items([_item("/a", 3), _item("/b")])
    assert s.generation() == g0 + 1
    assert s.count() == 2 and s.ids() == {"/a": a, "/b": b}
    [a2] = s.put_items([_item("/a", 2)])  # re-indexing a path keeps its id
    assert a2 == a and len(s.segments(a)) == 2
    _, ids, mat = s.load_vectors("toy", 4)
    assert len(ids) == 3 and mat.shape == (3, 4)
    assert s.delete_items([a]) == 1
    assert s.check_consistency() == []
    _, ids, _ = s.load_vectors("toy", 4)
    assert len(ids) == 1


def test_encoder_mismatch_is_refused(tmp_path: Path) -> None:
    s = Store(tmp_path / "c")
    s.ensure_space(SPEC)
    s.ensure_space(SPEC)  # same encoder: fine
    other = EncoderSpec("toy", "w2", 4, frozenset({Modality.IMAGE}), {"size": 8})
    with pytest.raises(EncoderMismatchError, match="never mix"):
        s.ensure_space(other)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "c").close()
    conn = sqlite3.connect(tmp_path / "c" / DB_NAME)
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="newer"):
        Store(tmp_path / "c")


def test_open_missing_collection_without_create(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no collection"):
        Store(tmp_path / "nothing", create=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError):
        Store(tmp_path / "file")


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="cannot open"):
        Store(tmp_path / "c")


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    s = Store(tmp_path / "c")
    s.ensure_space(SPEC)
    s.put_items([_item("/a")])
    bad = _item("/b")
    bad.vectors = {"toy": ([0, 1], np.eye(4, dtype=np.float32)[:2])}  # ordinal 1 has no segment
    with pytest.raises(KeyError):
        s.put_items([_item("/c"), bad])
    assert set(s.ids()) == {"/a"}
    assert s.check_consistency() == []


def test_filters_select_segments(tmp_path: Path) -> None:
    s = Store(tmp_path / "c")
    s.ensure_space(SPEC)
    s.put_items(
        [
            _item("/w/a.png", mtime=100.0),
            _item("/h/b.png", mtime=200.0),
            _item("/w/c.md", 2, 300.0, Modality.TEXT),
        ]
    )

    def count(f: Filters) -> int:
        return len(s.allowed_segments(f))

    assert count(Filters()) == 4
    assert count(Filters(modalities=frozenset({Modality.TEXT}))) == 2
    assert count(Filters(after=150.0)) == 3
    assert count(Filters(before=150.0)) == 1
    assert count(Filters(path_globs=("/w/*",))) == 3
    assert count(Filters(path_globs=("/w/*",), modalities=frozenset({Modality.IMAGE}))) == 1


def test_snapshot_follows_generation(tmp_path: Path) -> None:
    s = Store(tmp_path / "c")
    s.ensure_space(SPEC)
    s.put_items([_item("/a", 2)])
    ids, vecs = load_space(s, "toy", 4)
    assert len(ids) == 2 and vecs.shape == (2, 4)
    folder = snapshot_folder(s, "toy")
    assert folder is not None
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 2
    s.put_items([_item("/b", 1)])
    ids, _ = load_space(s, "toy", 4)
    assert len(ids) == 3
    assert len(list(folder.iterdir())) == 2  # stale files removed
