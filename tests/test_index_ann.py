"""The approximate indexes beyond the conformance suite: recall on clustered vectors, updates
in place, filters, and their files."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from xmodal.index.hnsw import HnswIndex
from xmodal.index.ivfpq import IvfPqIndex
from xmodal.index.updatable import UpdatableIndex


def clustered(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((40, d)).astype(np.float32)
    x = centres[rng.integers(0, 40, n)] + 0.4 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make(kind: str) -> UpdatableIndex:
    # a low training minimum, so that product quantisation itself is what is tested
    return HnswIndex() if kind == "hnsw" else IvfPqIndex(m=8, nprobe=16, min_train=2000)


def truth(ids: np.ndarray, x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    return ids[np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :k]]


def recall(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(got, want, strict=True)]))


@pytest.fixture(autouse=True)
def one_thread() -> None:
    # FAISS's threads spin while they wait: on a busy two-core machine one thread is faster
    faiss.omp_set_num_threads(1)


@pytest.fixture(params=["hnsw", "ivfpq"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_recall_on_clustered_vectors(kind: str) -> None:
    x, q = clustered(6000), clustered(50, seed=1)
    ids = np.arange(6000, dtype=np.int64) * 2 + 7
    idx = make(kind)
    idx.build(ids, x)
    _, got = idx.search(q, 10)
    assert recall(got, truth(ids, x, q, 10)) >= 0.9


def test_updates_in_place(kind: str) -> None:
    x = clustered(5000)
    ids = np.arange(5000, dtype=np.int64)
    idx = make(kind)
    idx.build(ids, x)
    gone = ids[:1000]
    idx.remove(gone)
    assert len(idx) == 4000
    # an id added again with a new vector is found by that vector, never by its old one
    new = clustered(10, seed=5)
    idx.add(ids[1000:1010], new)
    fresh = clustered(500, seed=6)
    idx.add(np.arange(9000, 9500, dtype=np.int64), fresh)
    assert len(idx) == 4500
    _, got = idx.search(x[:50], 10)
    assert not set(got.ravel().tolist()) & set(gone.tolist())
    scores, top = idx.search(new, 1)
    assert top[:, 0].tolist() == ids[1000:1010].tolist()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-4)
    _, top = idx.search(fresh[:20], 1)
    assert top[:, 0].tolist() == list(range(9000, 9020))


def test_many_removals_ask_for_a_rebuild(kind: str) -> None:
    idx = make(kind)
    idx.build(np.arange(3000, dtype=np.int64), clustered(3000))
    assert not idx.needs_rebuild()
    idx.remove(np.arange(1500, dtype=np.int64))
    assert idx.needs_rebuild()


def test_filters_selective_exact_broad_inside(kind: str) -> None:
    x, q = clustered(6000), clustered(20, seed=2)
    ids = np.arange(6000, dtype=np.int64)
    idx = make(kind)
    idx.build(ids, x)
    few = ids[::300]  # selective: searched exactly over these
    _, got = idx.search(q, 5, allowed=few)
    want = truth(few, x[::300], q, 5)
    assert got.tolist() == want.tolist()
    idx_wide = make(kind)
    idx_wide.build(ids, x)
    import xmodal.index.updatable as updatable

    # a broad filter goes through the approximate search, restricted inside it
    old = updatable.SELECTIVE_ROWS
    updatable.SELECTIVE_ROWS = 0
    try:
        half = ids[ids % 2 == 0]
        _, got = idx_wide.search(q, 10, allowed=half)
    finally:
        updatable.SELECTIVE_ROWS = old
    assert set(got.ravel().tolist()) <= set(half.tolist())
    assert recall(got, truth(half, x[half], q, 10)) >= 0.85


def test_files_round_trip_memory_mapped(kind: str, tmp_path: Path) -> None:
    x, q = clustered(4000), clustered(10, seed=3)
    ids = np.arange(4000, dtype=np.int64) + 100
    idx = make(kind)
    idx.build(ids, x)
    idx.remove(ids[:10])
    files = idx.save(tmp_path, "t")
    back = make(kind)
    back.load(tmp_path, files, mmap=True)
    assert len(back) == len(idx) == 3990
    for a, b in zip(idx.search(q, 10), back.search(q, 10), strict=True):
        np.testing.assert_array_equal(a, b)
    (tmp_path / files[-1]).write_bytes(b"not an index")
    with pytest.raises(Exception):  # noqa: B017  (whatever the library raises on damage)
        make(kind).load(tmp_path, files, mmap=True)


def test_compressed_ivfpq_with_float16_vectors() -> None:
    x, q = clustered(6000, d=64), clustered(30, d=64, seed=4)
    ids = np.arange(6000, dtype=np.int64)
    idx = IvfPqIndex(m=8, nprobe=16, store="float16", min_train=2000)
    idx.build(ids, x)
    scores, got = idx.search(q, 10)
    assert recall(got, truth(ids, x, q, 10)) >= 0.9
    np.testing.assert_allclose(scores[:, 0], np.max(q @ x.T, axis=1), atol=2e-3)


def test_narrow_filters_widen_the_graph_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A walk whose filter lets through 2% of the graph keeps its recall because its beam
    widens; with the plain beam the same walk misses most of the true neighbours."""
    import xmodal.index.hnsw as hnsw
    import xmodal.index.updatable as updatable

    x, q = clustered(6000), clustered(40, seed=3)
    ids = np.arange(6000, dtype=np.int64)
    idx = HnswIndex()
    idx.build(ids, x)
    few = np.sort(np.random.default_rng(4).choice(ids, 120, replace=False))
    want = truth(few, x[few], q, 10)
    monkeypatch.setattr(updatable, "SELECTIVE_ROWS", 0)
    monkeypatch.setattr(updatable, "SELECTIVE_SHARE", 0.0)
    _, widened = idx.search(q, 10, allowed=few)
    monkeypatch.setattr(hnsw, "filtered_ef", lambda ef, share: ef)
    _, plain = idx.search(q, 10, allowed=few)
    assert set(widened.ravel().tolist()) <= set(few.tolist())
    assert recall(widened, want) >= 0.9
    assert recall(plain, want) < recall(widened, want) - 0.2
