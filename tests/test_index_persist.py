"""Approximate indexes kept on disk: built once, caught up in place, rebuilt when damaged,
and never disagreeing with the store, even after a kill -9 in the middle of an update."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from awkward import shape_image, xmodal, xmodal_json
from xmodal.encoders.base import EncoderSpec
from xmodal.index import persist
from xmodal.index.cache import IndexCache
from xmodal.index.choice import IndexSettings, choose, parse_memory, save_settings
from xmodal.records import Modality, Segment
from xmodal.store.sqlite import NewItem, Store

SPEC = EncoderSpec("toy", "w1", 16, frozenset({Modality.IMAGE}), {"size": 8})


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    faiss.omp_set_num_threads(1)


def _items(names: range, seed: int) -> list[NewItem]:
    vecs = np.random.default_rng(seed).standard_normal((len(names), 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return [
        NewItem(
            f"/p{n}",
            Modality.IMAGE,
            f"h{n}-{seed}",
            1,
            1.0,
            "s",
            {},
            "",
            [Segment(0, "")],
            {"toy": ([0], vecs[i : i + 1])},
            frozenset({"toy"}),
        )
        for i, n in enumerate(names)
    ]


def _store(tmp_path: Path, kind: str = "hnsw") -> Store:
    s = Store(tmp_path / "c")
    s.ensure_space(SPEC)
    save_settings(s, IndexSettings(kind))
    s.put_items(_items(range(300), seed=1))
    return s


def _agrees_with_store(store: Store, kind: str) -> None:
    """The kept index answers as an exact scan of the store's vectors does."""
    cache = IndexCache(store)
    idx = cache.get("toy", 16)
    assert type(idx).__name__.lower().startswith(kind[:4])
    exact = cache.get("toy", 16, exact=True)
    assert len(idx) == len(exact)
    q = np.random.default_rng(7).standard_normal((5, 16)).astype(np.float32)
    assert idx.search(q, 5)[1].tolist() == exact.search(q, 5)[1].tolist()


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_caught_up_in_place_not_rebuilt(tmp_path: Path, kind: str, monkeypatch) -> None:
    store = _store(tmp_path, kind)
    _agrees_with_store(store, kind)
    builds = []
    real = persist._build
    monkeypatch.setattr(persist, "_build", lambda *a: (builds.append(1), real(*a)))
    store.put_items(_items(range(250, 320), seed=2))  # 50 replaced (same segment ids reused)
    store.delete_items([store.ids()[f"/p{n}"] for n in range(10)])
    _agrees_with_store(store, kind)
    assert builds == []
    folder = persist.index_folder(store, "toy")
    assert folder is not None
    manifest = json.loads((folder / f"{kind}.json").read_text())
    assert manifest["generation"] == store.generation() and manifest["count"] == 310


def test_damaged_files_are_rebuilt(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _agrees_with_store(store, "hnsw")
    folder = persist.index_folder(store, "toy")
    assert folder is not None
    for f in folder.glob("hnsw-*.hnsw"):
        f.write_bytes(b"\0" * 100)
    _agrees_with_store(store, "hnsw")
    (folder / "hnsw.json").write_text("{not json")
    _agrees_with_store(store, "hnsw")


def test_auto_by_size_and_memory_budget() -> None:
    assert choose(IndexSettings(), 1000, 512).kind == "exact"
    assert choose(IndexSettings(), 1_000_000, 512).kind == "hnsw"
    small = choose(IndexSettings(max_memory=parse_memory("1G")), 10_000_000, 512)
    assert small.kind == "ivfpq" and small.params["m"] + 16 <= 64
    assert "bytes per vector" in small.note


def test_budget_note_quotes_only_measured_recall() -> None:
    from xmodal.index.choice import MEASURED_RECALL

    budget = IndexSettings(max_memory=parse_memory("1G"))
    picked = choose(budget, 10_000_000, 512)
    measured = MEASURED_RECALL[(10_000_000, 512, picked.params["m"])]
    assert f"recall@10 {measured:.3f} measured on 10M" in picked.note
    # a million vectors get the figure measured at a million
    near = choose(IndexSettings(kind="ivfpq"), 1_200_000, 512)
    measured = MEASURED_RECALL[(1_000_000, 512, near.params["m"])]
    assert f"recall@10 {measured:.3f} measured on 1M" in near.note
    # a width no benchmark measured gets no figure
    odd = choose(budget, 10_000_000, 100)
    assert "recall not measured" in odd.note and "recall@10" not in odd.note


KILLER = """
import os, signal, sys
from xmodal.index import persist
from xmodal.index.cache import IndexCache
from xmodal.store.sqlite import Store
def dying(idx, folder, *rest):
    idx.save(folder, "hnsw-dying")  # data files written, manifest not yet
    os.kill(os.getpid(), signal.SIGKILL)
persist._save = dying
IndexCache(Store(sys.argv[1])).get("toy", 16)
"""


def test_kill_during_an_update_leaves_the_store_winning(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _agrees_with_store(store, "hnsw")
    store.put_items(_items(range(280, 330), seed=3))
    store.delete_items([store.ids()["/p3"]])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path / "c")], env=env)
    assert done.returncode == -9
    _agrees_with_store(store, "hnsw")


def test_cli_index_kind_info_and_exact_search(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    for n, (shape, color) in enumerate(
        [("circle", (200, 20, 20)), ("square", (20, 20, 200)), ("triangle", (20, 180, 20))]
    ):
        shape_image(shape, color, (255, 255, 255)).save(folder / f"{n}.png")
    db = tmp_path / "db"
    report = xmodal_json(
        "index", folder, "--db", db, "--model", "classic", "--index", "hnsw", "--json"
    )
    assert report["added"] == 3
    info = xmodal_json("info", "--db", db, "--json")
    assert info["spaces"]["classic"]["index"] == "hnsw"
    image = folder / "0.png"
    approx = xmodal_json("search", "--image", image, "--db", db, "--json")["results"]
    exact = xmodal_json("search", "--image", image, "--db", db, "--exact", "--json")["results"]
    assert [h["path"] for h in approx] == [h["path"] for h in exact]
    assert approx[0]["path"] == str(image)
    bad = xmodal("index", folder, "--db", db, "--max-memory", "lots")
    assert bad.returncode == 2 and "--max-memory" in bad.stderr
