"""``xmodal watch``: file events keep the collection current; SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from awkward import spawn, xmodal_json
from xmodal.collection import Collection
from xmodal.watch import index_roots

#: a generous bound on how long a change may take to show; not a timing assertion
DEADLINE = 90.0


def _ids(db: Path) -> dict[str, str]:
    # read in this process: a CLI start per poll would cost more than the watcher's work
    with Collection.open(db, create=False) as col:
        return col.ids()


def _until(cond: Callable[[dict[str, str]], bool], db: Path, proc: subprocess.Popen[str]) -> dict[
    str, str
]:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        if (db / "xmodal.db").exists():
            ids = _ids(db)
            if cond(ids):
                return ids
        time.sleep(0.3)
    raise AssertionError(f"no change within {DEADLINE}s: {_ids(db)}")


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, Path, subprocess.Popen[str]]]:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("apples grow on trees", encoding="utf-8")
    (root / "sub" / "b.txt").write_text("bananas are yellow", encoding="utf-8")
    db = tmp_path / "db"
    proc = spawn("watch", root, "--db", db, "--model", "bm25", "--debounce", "0.2", "--json")
    yield root, db, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_watch_follows_changes_and_stops_on_sigterm(
    watched: tuple[Path, Path, subprocess.Popen[str]],
) -> None:
    root, db, proc = watched
    a, b = str(root / "a.txt"), str(root / "sub" / "b.txt")
    first = _until(lambda ids: {a, b} <= set(ids), db, proc)
    (root / "c.txt").write_text("cherries are red", encoding="utf-8")
    _until(lambda ids: str(root / "c.txt") in ids, db, proc)
    # a whole folder renamed: its files keep their ids
    os.rename(root / "sub", root / "moved")
    moved = str(root / "moved" / "b.txt")
    ids = _until(lambda ids: moved in ids and b not in ids, db, proc)
    assert ids[moved] == first[b]
    (root / "a.txt").unlink()
    _until(lambda ids: a not in ids, db, proc)
    # a burst of files lands without a full rescan of the others
    for n in range(30):
        (root / f"burst{n}.txt").write_text(f"note number {n} about plums", encoding="utf-8")
    _until(lambda ids: sum("burst" in p for p in ids) == 30, db, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    reports = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert reports and all("added" in r for r in reports)
    assert all(r["unchanged"] == 0 for r in reports[1:]), reports
    assert set(xmodal_json("ids", "--db", db, "--json")) == set(_ids(db))


def test_watch_resumes_after_kill(watched: tuple[Path, Path, subprocess.Popen[str]]) -> None:
    root, db, proc = watched
    _until(lambda ids: len(ids) == 2, db, proc)
    proc.kill()
    proc.wait()
    (root / "late.txt").write_text("written while nobody watched", encoding="utf-8")
    again = spawn("watch", root, "--db", db, "--debounce", "0.2")
    try:
        _until(lambda ids: str(root / "late.txt") in ids, db, again)
        again.send_signal(signal.SIGINT)
        assert again.wait(timeout=60) == 0
    finally:
        if again.poll() is None:
            again.kill()


def test_index_roots_cover_nested_paths(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    got = index_roots([str(tmp_path / "d"), str(tmp_path / "d" / "x.png"), str(tmp_path / "y.png")])
    assert got == [str(tmp_path / "d"), str(tmp_path / "y.png")]
    assert index_roots([str(tmp_path / "d" / "p.txt")]) == [str(tmp_path / "d" / "p.txt")]
    (tmp_path / "d" / "p.png").write_bytes(b"")
    assert index_roots([str(tmp_path / "d" / "p.txt")]) == [str(tmp_path / "d" / "p.png")]


def test_watch_refuses_a_file(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x", encoding="utf-8")
    from awkward import xmodal

    done = xmodal("watch", f, "--db", tmp_path / "db")
    assert done.returncode == 2 and "folder" in done.stderr
