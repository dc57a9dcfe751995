"""Index runs whose files are decoded and embedded by Ray workers (one local cluster here)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from awkward import xmodal_json

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="needs the ray extra: pip install 'xmodal[ray]'"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    import ray

    # about 13 s to start on two cores: one cluster for the whole module
    info = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield str(info.address_info["address"])
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers import draw_image

    root = tmp_path_factory.mktemp("media")
    colours = [(220, 20, 20), (20, 40, 220), (20, 160, 40), (230, 200, 30), (120, 20, 160)]
    for n, colour in enumerate(colours):
        for shape in ("circle", "square", "triangle"):
            draw_image(colour, shape, 96).save(root / f"{shape}_{n}.png")
    (root / "notes.txt").write_text("a red circle and a blue square")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def _vectors(db: Path) -> dict[str, np.ndarray]:
    from xmodal.collection import Collection

    col = Collection.open(db, create=False)
    try:
        rows = col.store.conn.execute(
            "SELECT i.path, v.vector FROM vectors v JOIN segments s ON s.id = v.segment_id"
            " JOIN items i ON i.id = s.item_id WHERE v.space = 'classic'"
        )
        return {p: np.frombuffer(b, dtype=np.float32) for p, b in rows}
    finally:
        col.close()


def _report(r: Any) -> dict[str, Any]:
    out = r if isinstance(r, dict) else r.to_json()
    return {**out, "skipped": sorted((s["path"], s["reason"]) for s in out["skipped"])}


def test_a_worker_that_dies_is_retried_and_the_run_matches_a_local_one(
    cluster: str, folder: Path, tmp_path: Path
) -> None:
    from xmodal.collection import Collection
    from xmodal.ingest.distributed import Partition, embed_partition, run_index_ray

    marker = tmp_path / "died"
    doomed = str(folder / "square_3.png")

    def dies_once(part: Partition) -> list[Any]:
        # the worker process itself goes away, as a killed node would, on the first attempt
        if any(ref.path == doomed for ref, _, _ in part.jobs) and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return embed_partition(part)

    local = Collection.open(tmp_path / "local")
    want = local.index([folder], models=["classic", "bm25"])
    local.close()
    from xmodal.collection import _load_parts

    fresh = Collection.open(tmp_path / "fresh")
    enc, ext = _load_parts(["classic", "bm25"])
    for e in enc:
        fresh.store.ensure_space(e.spec)
    got = run_index_ray(fresh.store, [str(folder)], enc, extractors=ext, address=cluster,
                        task=dies_once)  # fmt: skip
    fresh.close()
    assert marker.exists(), "the partition's first attempt ran and died"
    assert _report(got) == _report(want)
    assert got.added == 16 and [s.path for s in got.skipped] == [str(folder / "broken.png")]
    vecs, ref = _vectors(tmp_path / "fresh"), _vectors(tmp_path / "local")
    assert vecs.keys() == ref.keys()
    for path, v in ref.items():
        np.testing.assert_allclose(vecs[path], v, atol=1e-6)


def test_cli_joins_the_cluster_and_reports_as_index(
    cluster: str, folder: Path, tmp_path: Path
) -> None:
    local = xmodal_json("index", folder, "--db", tmp_path / "a", "--model", "classic", "--json")
    ray_run = xmodal_json("index", folder, "--db", tmp_path / "b", "--model", "classic",
                          "--ray", cluster, "--json", timeout=300)  # fmt: skip
    assert _report(ray_run) == _report(local)
    # a second run finds nothing to do, as a local one would
    again = xmodal_json("index", folder, "--db", tmp_path / "b", "--ray", cluster, "--json",
                        timeout=300)  # fmt: skip
    assert (again["added"], again["unchanged"]) == (0, 16)
    query = folder / "circle_1.png"
    a = xmodal_json("search", "--image", query, "--db", tmp_path / "a", "-k", "3", "--json")
    b = xmodal_json("search", "--image", query, "--db", tmp_path / "b", "-k", "3", "--json")
    assert [h["path"] for h in a["results"]] == [h["path"] for h in b["results"]]
