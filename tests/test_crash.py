"""SIGKILL an index run at random moments: the collection must always open, be consistent, and
a final uninterrupted run must leave exactly the files on disk, each once, each with a vector.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from awkward import cli_env, count_items, make_image_folder, spawn, wait_for_items, xmodal_json
from xmodal.errors import UsageError
from xmodal.store.sqlite import Store

COUNT = 2400  # enough that runs are still going when killed, however fast decoding gets
SEED = 20261122
HELPER = Path(__file__).with_name("interrupting_cli.py")


def _kill(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL ``proc`` if it still runs; True if it was killed rather than finished."""
    alive = proc.poll() is None
    if alive:
        proc.kill()
    proc.communicate(timeout=30)
    if not alive:
        assert proc.returncode == 0, f"index run failed on its own: {proc.stderr}"
    return alive


def check_after_kill(
    db: Path, expected: set[str], may_be_missing: bool, space: str = "classic"
) -> dict[str, int]:
    """The collection opens and is consistent, every item with one vector in ``space``;
    returns ``{path: stored size}``."""
    try:
        store = Store(db, create=False)
    except UsageError:
        assert may_be_missing, "the collection vanished after a kill"
        return {}
    try:
        assert store.check_consistency() == []
        dupes = store.conn.execute(
            "SELECT path, COUNT(*) FROM items GROUP BY path HAVING COUNT(*) > 1"
        ).fetchall()
        assert not dupes, [tuple(r) for r in dupes]
        rows = store.conn.execute(
            "SELECT i.path, i.size, COUNT(v.segment_id) FROM items i"
            " LEFT JOIN segments s ON s.item_id = i.id"
            " LEFT JOIN vectors v ON v.segment_id = s.id AND v.space = ?"
            " GROUP BY i.id",
            (space,),
        ).fetchall()
        stored = {r[0]: r[1] for r in rows}
        assert len(stored) == len(rows)
        assert set(stored) <= expected, set(stored) - expected
        no_vector = [r[0] for r in rows if r[2] != 1]
        assert not no_vector, f"items without exactly one {space} vector: {no_vector[:5]}"
        return stored
    finally:
        store.close()


def crash_after_commits(args: tuple[object, ...], commits: int, when: str, batch: int = 8) -> None:
    """Run ``xmodal ARGS`` in batches of ``batch`` and SIGKILL it at the ``commits``-th
    commit."""
    env = {**cli_env(), "INTERRUPT_SIGNAL": "KILL", "INTERRUPT_WHEN": when}
    proc = subprocess.run(
        [sys.executable, HELPER, str(commits), str(batch), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed: {proc.stderr[-2000:]}"


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_the_collection(tmp_path: Path) -> None:
    started = time.monotonic()
    root, db = tmp_path / "photos", tmp_path / "collection"
    expected = set(make_image_folder(root, COUNT, size=800, seed=3))
    # one decoding thread: the same pace on a laptop and on a 64-core server
    args = ("index", root, "--db", db, "--model", "classic", "--workers", "1", "--json", "-q")
    rng = random.Random(SEED)
    kills = mid_run_kills = 0
    progress = [0]

    def run_and_kill(delay: float | None, extra: float = 0.0) -> None:
        """Start a run; kill it ``delay`` s after the start, or (``None``) ``extra`` s after
        this run's first committed batch."""
        nonlocal kills, mid_run_kills
        before = count_items(db)
        proc = spawn(*args)
        if delay is not None:
            time.sleep(delay)
        else:
            wait_for_items(db, before + 1, proc, limit=60)
            time.sleep(extra)
        killed = _kill(proc)
        kills += killed
        mid_run_kills += killed and delay is None
        stored = check_after_kill(db, expected, may_be_missing=delay is not None)
        assert len(stored) >= progress[-1], "committed items were lost"
        progress.append(len(stored))

    # very early: while Python starts, the collection is created, the schema written
    for delay in (0.0, 0.25, 0.8, rng.uniform(1.0, 2.0), rng.uniform(1.0, 2.0)):
        run_and_kill(delay)
    # in the middle of batches being decoded, embedded and committed
    for _ in range(4):
        run_and_kill(None, rng.uniform(0.0, 0.6))
    assert kills >= 5, f"only {kills} runs were still running when killed"
    # at known points, whatever the machine's speed: right after a commit, and with a batch
    # encoded but its write not yet begun; in a collection of its own, so that the runs above
    # cannot already have done all the work however fast they were
    known_db = tmp_path / "collection-known"
    known_args = (*args[:3], known_db, *args[4:])
    for when in ("after", "before", "after"):
        before_run = count_items(known_db)
        crash_after_commits(known_args, rng.randint(1, 4), when)
        stored = check_after_kill(known_db, expected, may_be_missing=False)
        assert len(stored) >= before_run, "committed items were lost"
        mid_run_kills += 1
    done = xmodal_json(*known_args, timeout=300)
    assert done["added"] + done["unchanged"] == COUNT
    assert check_after_kill(known_db, expected, may_be_missing=False).keys() == expected

    # kill runs that replace items whose files changed (a different trailer, a new size)
    changed = sorted(rng.sample(sorted(expected), 200))
    for p in changed:
        data = Path(p).read_bytes()
        Path(p).write_bytes(data + b"-changed")
    for _ in range(2):
        run_and_kill(None, rng.uniform(0.0, 0.4))

    # an uninterrupted run completes the work
    report = xmodal_json(*args, timeout=120)
    assert report["skipped"] == [] and report["removed"] == 0
    assert report["added"] + report["updated"] + report["unchanged"] == COUNT
    ids = xmodal_json("ids", "--db", db, "--json")
    assert set(ids) == expected
    assert len(set(ids.values())) == COUNT
    stored = check_after_kill(db, expected, may_be_missing=False)
    assert stored == {p: os.path.getsize(p) for p in expected}, "stale items after the final run"
    info = xmodal_json("info", "--db", db, "--check", "--json")
    assert info["problems"] == [] and info["items"] == COUNT
    again = xmodal_json(*args)
    assert (again["added"], again["updated"], again["removed"]) == (0, 0, 0)
    assert again["unchanged"] == COUNT
    print(f"kills={kills} ({mid_run_kills} mid-run) items after each: {progress}")
    print(f"took {time.monotonic() - started:.1f}s")


def _recordings(root: Path, count: int) -> set[str]:
    """``count`` short recordings, each a tone of its own pitch, rate and format: one window
    (so one ``audio-classic`` vector) apiece."""
    sf = pytest.importorskip("soundfile")
    pytest.importorskip("librosa")
    from awkward import tone

    root.mkdir(parents=True)
    kinds = [("wav", 16_000), ("flac", 44_100), ("ogg", 22_050), ("wav", 8_000)]
    paths = set()
    for n in range(count):
        ext, rate = kinds[n % len(kinds)]
        path = root / f"take_{n:03d}.{ext}"
        sf.write(path, tone(1.5 + (n % 3) * 0.5, 150 + 37 * n, rate), rate)
        paths.add(str(path))
    return paths


def test_sigkill_at_known_commits_keeps_recordings_consistent(tmp_path: Path) -> None:
    root, db = tmp_path / "recordings", tmp_path / "collection"
    expected = _recordings(root, 24)
    args = ("index", root, "--db", db, "--model", "audio-classic", "--workers", "1", "-q")
    progress = [0]
    for commits, when in ((1, "after"), (2, "before"), (3, "after")):
        crash_after_commits(args, commits, when, batch=4)
        stored = check_after_kill(db, expected, may_be_missing=False, space="audio-classic")
        assert len(stored) >= progress[-1] + (when == "after"), "committed recordings were lost"
        progress.append(len(stored))
    report = xmodal_json(*args, "--json", timeout=300)
    assert report["skipped"] == [] and report["added"] + report["unchanged"] == len(expected)
    assert report["unchanged"] == progress[-1]
    stored = check_after_kill(db, expected, may_be_missing=False, space="audio-classic")
    assert stored == {p: os.path.getsize(p) for p in expected}
    store = Store(db, create=False)
    try:
        spans = store.conn.execute("SELECT start, end FROM segments").fetchall()
        assert len(spans) == len(expected) and all(0 <= a < b for a, b in spans)
    finally:
        store.close()
    again = xmodal_json(*args, "--json")
    assert (again["added"], again["unchanged"]) == (0, len(expected))


def _video_state(db: Path, expected: set[str]) -> dict[str, int]:
    """The collection after a kill: consistent, each path once, every window of every video
    with one ``classic`` vector; ``{path: windows}``."""
    store = Store(db, create=False)
    try:
        assert store.check_consistency() == []
        rows = store.conn.execute(
            "SELECT i.path, s.id, COUNT(v.segment_id) FROM items i"
            " JOIN segments s ON s.item_id = i.id"
            " LEFT JOIN vectors v ON v.segment_id = s.id AND v.space = 'classic'"
            " WHERE i.modality = 'video' GROUP BY s.id"
        ).fetchall()
        dupes = store.conn.execute(
            "SELECT path FROM items GROUP BY path HAVING COUNT(*) > 1"
        ).fetchall()
    finally:
        store.close()
    assert not dupes, [tuple(r) for r in dupes]
    assert all(r[2] == 1 for r in rows), [tuple(r) for r in rows if r[2] != 1]
    windows: dict[str, int] = {}
    for path, _, _ in rows:
        windows[path] = windows.get(path, 0) + 1
    assert set(windows) <= expected, set(windows) - expected
    return windows


def test_sigkill_at_known_commits_keeps_videos_consistent(tmp_path: Path) -> None:
    pytest.importorskip("av")
    pytest.importorskip("scenedetect")
    from awkward import INDEXED
    from videos import make_awkward_videos, make_video

    root, db = tmp_path / "videos", tmp_path / "collection"
    expect = make_awkward_videos(root)
    for n in range(4):
        make_video(root / f"take_{n}.mp4", (1.0, 0.5 + 0.5 * n), size=(48, 32))
        expect[f"take_{n}.mp4"] = INDEXED
    good = {str(root / p) for p, v in expect.items() if v == INDEXED}
    videos = good - {str(root / "voice_only.mp4")}
    args = ("index", root, "--db", db, "--model", "classic", "--workers", "1", "-q")
    progress = [0]
    for commits, when in ((1, "after"), (2, "before"), (3, "after")):
        crash_after_commits(args, commits, when, batch=2)
        stored = _video_state(db, videos)
        assert len(stored) >= progress[-1], "committed videos were lost"
        progress.append(len(stored))
    report = xmodal_json(*args, "--json", timeout=300)
    assert report["added"] + report["unchanged"] == len(good)
    assert {Path(s["path"]).name for s in report["skipped"]} == {
        p for p, v in expect.items() if v != INDEXED
    }
    stored = _video_state(db, videos)
    assert set(stored) == videos
    info = xmodal_json("info", "--db", db, "--check", "--json")
    assert info["problems"] == [] and info["items"] == len(good)
    again = xmodal_json(*args, "--json")
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, len(good))
