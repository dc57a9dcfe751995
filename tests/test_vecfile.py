"""The exact-vector file: positioned reads give the same rows as the memory map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xmodal.index.ivfpq import IvfPqIndex
from xmodal.index.vecfile import VectorFile


def _file(tmp_path: Path, n: int, dtype: str = "float16") -> tuple[VectorFile, np.ndarray]:
    x = np.random.default_rng(0).standard_normal((n, 24)).astype(np.float32)
    vf = VectorFile.create(tmp_path, 24, dtype)
    vf.append(x[: n // 2])
    vf.append(x[n // 2 :])
    return vf, x.astype(dtype).astype(np.float32)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_pread_matches_the_map(tmp_path: Path, dtype: str) -> None:
    vf, x = _file(tmp_path, 3000, dtype)
    rng = np.random.default_rng(1)
    cases = [
        rng.choice(3000, 200, replace=False),  # scattered, unsorted
        np.arange(100, 400),  # one run
        np.array([7, 5, 6, 5, 2999, 0, 0]),  # neighbours, repeats, both ends
        rng.integers(0, 3000, 5000),  # more than the kept buffer's first size
    ]
    for rows in cases:
        vf.reads = "pread"
        got = vf.get(rows)
        vf.reads = "mmap"
        assert np.array_equal(got, vf.get(rows))
        assert np.array_equal(got, x[rows])
    vf.reads = "pread"
    assert vf.get(np.empty(0, dtype=np.int64)).shape == (0, 24)
    with pytest.raises(IndexError):
        vf.get(np.array([3000]))
    with pytest.raises(IndexError):
        vf.get(np.array([-1]))


def test_pread_sees_rows_appended_after_the_file_was_opened(tmp_path: Path) -> None:
    vf, x = _file(tmp_path, 100)
    vf.reads = "pread"
    assert np.array_equal(vf.get(np.array([99, 3])), x[[99, 3]])
    more = np.ones((5, 24), dtype=np.float32)
    vf.append(more)
    assert np.array_equal(vf.get(np.array([104, 99])), np.vstack([more[4:], x[99:]]))


def test_pread_counts_the_bytes_it_reads(tmp_path: Path) -> None:
    vf, _ = _file(tmp_path, 1000)
    vf.reads = "pread"
    vf.get(np.array([10, 500, 900]))
    assert vf.bytes_read == 3 * vf.row_bytes
    # neighbours within a page are fetched in one read, the rows between them included
    vf.get(np.array([20, 22]))
    assert vf.bytes_read == 6 * vf.row_bytes


def test_ivfpq_answers_the_same_with_either_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx = IvfPqIndex(m=8, nprobe=8, rerank=8, nlist=16, min_train=1000, workdir=tmp_path)
    idx.build(np.arange(3000, dtype=np.int64) + 10, x)
    q = x[:20] + 0.05 * rng.standard_normal((20, 32)).astype(np.float32)
    assert idx._vec is not None
    idx._vec.reads = "pread"
    a = idx.search(q, 5)
    idx._vec.reads = "mmap"
    b = idx.search(q, 5)
    assert np.array_equal(a[1], b[1])
    assert np.allclose(a[0], b[0])
