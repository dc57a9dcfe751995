"""A collection whose vectors are searched in Milvus (milvus-lite embedded, one file here)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest

from awkward import xmodal, xmodal_json

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("milvus_lite") is None,
    reason="needs the milvus extra: pip install 'xmodal[milvus]'",
)


@pytest.fixture(scope="module")
def milvus_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"milvus://{tmp_path_factory.mktemp('milvus') / 'vectors.db'}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers import draw_image

    root = tmp_path_factory.mktemp("media")
    colours = [(220, 20, 20), (20, 40, 220), (20, 160, 40), (230, 200, 30), (120, 20, 160)]
    for n, colour in enumerate(colours):
        for shape in ("circle", "square"):
            draw_image(colour, shape, 96).save(root / f"{shape}_{n}.png")
    return root


def _paths(found: dict[str, list[dict[str, object]]]) -> list[object]:
    return [(h["path"], round(float(str(h["score"])), 4)) for h in found["results"]]


def test_index_into_milvus_searches_as_exact(
    folder: Path, milvus_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = tmp_path_factory.mktemp("col") / "db"
    report = xmodal_json("index", folder, "--db", db, "--model", "classic", "--vectors",
                         milvus_url, "--json")  # fmt: skip
    assert report["added"] == 10
    query = folder / "circle_2.png"
    got = xmodal_json("search", "--image", query, "--db", db, "-k", "5", "--json")
    exact = xmodal_json("search", "--image", query, "--db", db, "-k", "5", "--exact", "--json")
    assert _paths(got) == _paths(exact)
    assert got["results"][0]["path"] == str(query)
    # a filter is pushed down to Milvus: only squares come back
    squares = xmodal_json("search", "--image", query, "--db", db, "--path", "*square*",
                          "-k", "3", "--json")  # fmt: skip
    assert len(squares["results"]) == 3
    assert all("square" in h["path"] for h in squares["results"])
    assert squares["results"][0]["path"] == str(folder / "square_2.png")


def test_updates_reach_milvus_and_vectors_move_back_and_forth(
    folder: Path, milvus_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from helpers import draw_image

    media = tmp_path_factory.mktemp("more")
    for n, colour in enumerate([(10, 10, 10), (250, 250, 250), (250, 120, 0)]):
        draw_image(colour, "triangle", 96).save(media / f"tri_{n}.png")
    db = tmp_path_factory.mktemp("col2") / "db"
    xmodal_json("index", media, "--db", db, "--model", "classic", "--json")
    moved = xmodal_json("vectors", "move", "--to", milvus_url, "--db", db, "--json")
    assert moved == {"vectors": milvus_url, "spaces": {"classic": 3}}
    (media / "tri_0.png").unlink()
    draw_image((0, 200, 200), "circle", 96).save(media / "new.png")
    report = xmodal_json("index", media, "--db", db, "--json")
    assert (report["added"], report["removed"]) == (1, 1)
    hits = xmodal_json("search", "--image", media / "new.png", "--db", db, "-k", "5", "--json")
    assert hits["results"][0]["path"] == str(media / "new.png")
    assert str(media / "tri_0.png") not in {h["path"] for h in hits["results"]}
    assert len(hits["results"]) == 3
    back = xmodal_json("vectors", "move", "--to", "local", "--db", db, "--json")
    assert back == {"vectors": "local", "spaces": {"classic": None}}
    local = xmodal_json("search", "--image", media / "new.png", "--db", db, "-k", "5", "--json")
    assert _paths(local) == _paths(hits)


def test_bad_target_is_a_usage_error(folder: Path, tmp_path: Path) -> None:
    done = xmodal("index", folder, "--db", tmp_path / "db", "--vectors", "milvus://x.txt")
    assert done.returncode == 2
    assert "must end in .db" in done.stderr
    assert not (tmp_path / "db").exists()


def test_collection_in_python(
    folder: Path, milvus_url: str, tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    from xmodal.collection import Collection
    from xmodal.index.milvus import MilvusIndex
    from xmodal.query.filters import Filters

    col = Collection.open(tmp_path / "db")
    col.index([folder], models=["classic"], vectors=milvus_url)
    idx = col.indexes.get("classic", col.store.spaces()["classic"].dim)
    assert isinstance(idx, MilvusIndex) and len(idx) == 10
    query = folder / "square_4.png"
    hits = col.search(image=query, k=4, filters=Filters(path_globs=("*circle*",)))
    assert hits[0].path == str(folder / "circle_4.png")
    col.close()


def test_moving_to_milvus_keeps_every_vector_in_the_store(
    folder: Path, milvus_url: str, tmp_path: Path
) -> None:
    import numpy as np

    from xmodal.collection import Collection
    from xmodal.index.milvus_sync import move_vectors
    from xmodal.store.snapshot import load_space

    col = Collection.open(tmp_path / "db")
    col.index([folder], models=["classic"])
    dim = col.store.spaces()["classic"].dim
    ids, vecs = load_space(col.store, "classic", dim)
    assert len(ids) == 10
    moved = move_vectors(col.store, milvus_url)
    assert moved["spaces"] == {"classic": 10}
    # the store stays the source of truth: Milvus holds a copy, the store keeps its own
    ids_there, vecs_there = load_space(col.store, "classic", dim)
    np.testing.assert_array_equal(ids_there, ids)
    np.testing.assert_array_equal(vecs_there, vecs)
    move_vectors(col.store, "local")
    ids_back, vecs_back = load_space(col.store, "classic", dim)
    np.testing.assert_array_equal(ids_back, ids)
    np.testing.assert_array_equal(vecs_back, vecs)
    col.close()
