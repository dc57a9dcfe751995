"""One suite over every registered vector index."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import numpy as np
import pytest

from helpers import random_unit
from xmodal.index import create_index, index_names

#: Milvus runs only with its extra installed (milvus-lite embedded: one server for the module)
HAVE_MILVUS = importlib.util.find_spec("milvus_lite") is not None
KINDS = [k for k in index_names() if k != "milvus" or HAVE_MILVUS]


@pytest.fixture(scope="module", autouse=True)
def milvus_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if not HAVE_MILVUS:
        yield
        return
    from xmodal.index import milvus

    before = milvus.default_target
    path = tmp_path_factory.mktemp("milvus") / "conformance.db"
    milvus.default_target = lambda: milvus.MilvusTarget(str(path))  # type: ignore[assignment]
    yield
    milvus.default_target = before  # type: ignore[assignment]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _truth(ids: np.ndarray, vecs: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    sims = q @ vecs.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, axis=1)


def test_matches_brute_force(kind: str) -> None:
    vecs = random_unit(500, 32, seed=1)
    ids = np.random.default_rng(2).permutation(np.arange(1000, 1500, dtype=np.int64))
    q = random_unit(7, 32, seed=3)
    idx = create_index(kind)
    idx.build(ids, vecs)
    assert len(idx) == 500
    scores, got = idx.search(q, 10)
    assert scores.shape == got.shape == (7, 10)
    np.testing.assert_allclose(scores, _truth(ids, vecs, q, 10), rtol=1e-5, atol=1e-5)
    lookup = dict(zip(ids.tolist(), range(len(ids)), strict=True))
    for row in range(7):
        recomputed = vecs[[lookup[i] for i in got[row]]] @ q[row]
        np.testing.assert_allclose(recomputed, scores[row], rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_allowed_restricts_candidates(kind: str) -> None:
    vecs = random_unit(300, 16, seed=4)
    ids = np.arange(300, dtype=np.int64) * 3
    idx = create_index(kind)
    idx.build(ids, vecs)
    allowed = ids[::7]
    q = random_unit(3, 16, seed=5)
    scores, got = idx.search(q, 5, allowed=np.concatenate([allowed, [-5, 10_000]]))
    assert set(got.ravel().tolist()) <= set(allowed.tolist())
    np.testing.assert_allclose(scores, _truth(allowed, vecs[::7], q, 5), rtol=1e-5, atol=1e-5)


def test_padding_when_fewer_than_k(kind: str) -> None:
    idx = create_index(kind)
    idx.build(np.array([5, 9], dtype=np.int64), random_unit(2, 8))
    scores, got = idx.search(random_unit(1, 8, seed=9), 4)
    assert got[0, 2:].tolist() == [-1, -1]
    assert np.isneginf(scores[0, 2:]).all()
    _, none = idx.search(random_unit(1, 8, seed=9), 3, allowed=np.array([7], dtype=np.int64))
    assert none.tolist() == [[-1, -1, -1]]


def test_empty_index(kind: str) -> None:
    idx = create_index(kind)
    idx.build(np.empty(0, dtype=np.int64), np.empty((0, 8), dtype=np.float32))
    assert len(idx) == 0
    _, got = idx.search(random_unit(2, 8), 3)
    assert got.shape == (2, 3) and (got == -1).all()


def test_unknown_index_is_a_usage_error() -> None:
    from xmodal.errors import UsageError

    with pytest.raises(UsageError):
        create_index("no-such-index")
