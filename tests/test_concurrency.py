"""Two processes on one collection: a second writer is refused (or waits with --wait), while
searches read the last committed state of a collection that is being written."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from awkward import make_image_folder, spawn, wait_for_items, xmodal_json
from xmodal.collection import Collection
from xmodal.store.sqlite import Store

COUNT = 2000


def _finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@pytest.mark.slow
def test_one_writer_at_a_time_and_searches_meanwhile(tmp_path: Path) -> None:
    root, db = tmp_path / "photos", tmp_path / "collection"
    paths = make_image_folder(root, COUNT, size=2000, seed=5)
    procs: list[subprocess.Popen[str]] = []
    try:
        first = spawn("index", root, "--db", db, "--model", "classic", "--workers", "1", "--json")
        procs.append(first)
        # the first batch is committed (a search has something to find), the run goes on
        assert wait_for_items(db, 1, first, limit=90) > 0
        assert first.poll() is None, "the first run ended before the others could start"

        refused = spawn("index", root, "--db", db, "--json")
        waiting = spawn("index", root, "--db", db, "--wait", "120", "--json")
        searching = spawn("search", "--image", paths[0], "--db", db, "-k", "5", "--json")
        procs += [refused, waiting, searching]

        code, out, err = _finish(refused, 60)
        assert code == 2, err
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert "another process" in lines[0] and f"pid {first.pid}" in lines[0], lines[0]
        assert "--wait" in lines[0]

        code, out, err = _finish(searching, 60)
        assert code == 0, err
        found = json.loads(out)["results"]
        assert 1 <= len(found) <= 5
        assert found[0]["score"] > 0.99  # the query image (or a copy of its pixels) is in

        overlapped = first.poll() is None
        t_search = time.monotonic()
        assert waiting.poll() is None, "index --wait did not wait for the running index"
        t0 = time.monotonic()
        code, out, err = _finish(first, 180)
        print(f"first ran on {time.monotonic() - t_search:.1f}s after the search ended")
        assert code == 0, err
        report = json.loads(out)
        assert report["added"] == COUNT, report
        assert overlapped, "the first run ended before the refused run and the search did"

        code, out, err = _finish(waiting, 150)
        assert code == 0, err
        waited = json.loads(out)
        assert (waited["added"], waited["updated"], waited["removed"]) == (0, 0, 0)
        assert waited["unchanged"] == COUNT
        assert time.monotonic() - t0 < 60
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()

    ids = xmodal_json("ids", "--db", db, "--json")
    assert set(ids) == set(paths)
    assert {r["id"] for r in found} <= set(ids.values())
    info = xmodal_json("info", "--db", db, "--check", "--json")
    assert info["problems"] == [] and info["items"] == COUNT


def test_a_search_survives_a_writer_committing_between_its_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic form of a race seen with real processes (a search loop beside
    ``xmodal index`` runs that change every file hits it a few times a minute)."""
    root, db = tmp_path / "photos", tmp_path / "collection"
    paths = make_image_folder(root, 6, size=64, seed=9)
    with Collection.open(db) as col:
        col.index([root], models=["classic"])
    original = Store.resolve_segments
    calls = 0

    def racing(self: Store, segment_ids: object) -> object:
        nonlocal calls
        calls += 1
        refs = original(self, segment_ids)  # type: ignore[arg-type]
        if calls == 1:
            # right after the search's first read, another process re-indexes every file
            for p in paths:
                with open(p, "ab") as f:
                    f.write(b"changed")
            with Collection.open(db) as writer:
                report = writer.index([root])
            assert report.updated == len(paths)
        return refs

    monkeypatch.setattr(Store, "resolve_segments", racing)
    with Collection.open(db, create=False) as reader:
        hits = reader.search(image=paths[0], k=3)
    assert calls >= 1
    assert 1 <= len(hits) <= 3
    assert {h.path for h in hits} <= set(paths)
