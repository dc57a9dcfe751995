"""Index runs commit every few seconds of work, report progress as files are encoded, keep
what they committed on Ctrl-C, hold a bounded number of decoded files, and read the text in
a picture once per content."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import xmodal.ingest.pipeline as pipeline
from awkward import cli_env, make_image_folder, xmodal_json
from xmodal import Collection
from xmodal.encoders import get_encoder
from xmodal.encoders.base import TextBox
from xmodal.encoders.ocr import RapidOcrExtractor
from xmodal.ingest.commits import IndexInterrupted, deferred_interrupt
from xmodal.ingest.pipeline import DECODED_BYTES, IndexOptions, run_index, run_sizes
from xmodal.media.limits import DEFAULT_LIMITS
from xmodal.store.schema import SCHEMA_VERSION
from xmodal.store.sqlite import DB_NAME, Store

HELPER = Path(__file__).with_name("interrupting_cli.py")


@dataclass
class Bar:
    """A progress bar that records each update with what the store had committed by then."""

    store: Store
    total: int
    updates: list[tuple[int, int]] = field(default_factory=list)
    on_update: Callable[[int], None] | None = None

    def update(self, n: int = 1) -> None:
        self.updates.append((n, self.store.count()))
        if self.on_update:
            self.on_update(len(self.updates))

    def close(self) -> None:
        pass


def _recording(store: Store, bars: list[Bar], **kw: Any) -> Callable[[int], Bar]:
    def factory(total: int) -> Bar:
        bars.append(Bar(store, total, **kw))
        return bars[-1]

    return factory


def _commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Items in each commit of the runs that follow."""
    sizes: list[int] = []
    original = Store.write_batch

    def recording(self: Store, items: Sequence[Any], *args: Any, **kw: Any) -> list[str]:
        sizes.append(len(items))
        return original(self, items, *args, **kw)

    monkeypatch.setattr(Store, "write_batch", recording)
    return sizes


def _index(store: Store, root: Path, **kw: Any) -> Any:
    encoders = [get_encoder("classic")]
    for e in encoders:
        store.ensure_space(e.spec)
    options = kw.pop("options", IndexOptions(batch_size=2, workers=2))
    return run_index(store, [str(root)], encoders, options, **kw)


def test_commits_come_with_time_not_with_a_count_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "photos"
    make_image_folder(root, 8, size=64)
    sizes = _commits(monkeypatch)
    now = [0.0]
    store = Store(tmp_path / "a")
    bars: list[Bar] = []

    def tick(_: int) -> None:
        now[0] += 5.0  # each encoded batch "costs" five seconds

    progress = _recording(store, bars, on_update=tick)
    report = _index(store, root, progress=progress, commit_every=9.0, clock=lambda: now[0])
    assert report.added == 8 and sizes == [4, 4]
    sizes.clear()
    assert _index(Store(tmp_path / "b"), root, commit_every=0.0).added == 8
    assert sizes == [2, 2, 2, 2]
    sizes.clear()
    assert _index(Store(tmp_path / "c"), root, commit_every=math.inf).added == 8
    assert sizes == [8]


def test_a_keyword_space_does_not_make_batches_large() -> None:
    encoders = [get_encoder("bm25"), get_encoder("classic")]
    sizes = run_sizes(IndexOptions(workers=2), encoders, DEFAULT_LIMITS)
    assert sizes.batch == get_encoder("classic").batch_size < get_encoder("bm25").batch_size
    # large decoded images: fewer of them at once, whatever the encoders ask for
    big = replace(DEFAULT_LIMITS, max_side=1600)
    sizes = run_sizes(IndexOptions(workers=8), encoders, big)
    assert sizes.batch >= 1 and sizes.workers <= sizes.window
    assert (sizes.batch + sizes.window) * 3 * 1600**2 <= DECODED_BYTES
    # reading text in pictures is slow: a batch is what the reader takes at once
    ocr = RapidOcrExtractor()
    assert run_sizes(IndexOptions(), encoders, big, [ocr]).batch == ocr.batch_size


def test_progress_advances_per_encoded_batch_before_any_commit(tmp_path: Path) -> None:
    root = tmp_path / "media"
    make_image_folder(root, 7, size=64)
    # a document of many passages costs as much as a batch of pictures: it is a batch alone
    words = "\n\n".join(f"Paragraph {n} " + "words " * 120 for n in range(6))
    (root / "long.txt").write_text(words)
    store = Store(tmp_path / "db")
    bars: list[Bar] = []
    options = IndexOptions(batch_size=4, workers=2)
    progress = _recording(store, bars)
    report = _index(store, root, options=options, progress=progress, commit_every=math.inf)
    assert report.added == 8
    [bar] = bars
    assert bar.total == 8 and sorted(n for n, _ in bar.updates) == [1, 3, 4]
    # every step arrived while nothing was committed yet
    assert {committed for _, committed in bar.updates} == {0}
    assert len(store.segments(store.ids()[str(root / "long.txt")])) >= 4


def test_decoded_files_in_memory_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "photos"
    make_image_folder(root, 40, size=64)
    started = [0]
    encoded = [0]
    held: list[int] = []
    prepare, encode_batch = pipeline.prepare, pipeline.encode_batch

    def counting_prepare(*args: Any) -> Any:
        started[0] += 1
        return prepare(*args)

    def counting_encode(batch: Sequence[Any], *args: Any) -> Any:
        held.append(started[0] - encoded[0])
        encoded[0] += len(batch)
        return encode_batch(batch, *args)

    monkeypatch.setattr(pipeline, "prepare", counting_prepare)
    monkeypatch.setattr(pipeline, "encode_batch", counting_encode)
    options = IndexOptions(batch_size=2, workers=2)
    assert _index(Store(tmp_path / "db"), root, options=options).added == 40
    sizes = run_sizes(options, [get_encoder("classic")], DEFAULT_LIMITS)
    assert len(held) == 20 and max(held) <= sizes.batch + sizes.window <= 8


def test_interrupted_run_keeps_what_it_encoded_and_the_next_run_does_the_rest(
    tmp_path: Path,
) -> None:
    root = tmp_path / "photos"
    make_image_folder(root, 8, size=64)
    store = Store(tmp_path / "db")
    bars: list[Bar] = []

    def stop(updates: int) -> None:
        if updates == 2:
            raise KeyboardInterrupt

    progress = _recording(store, bars, on_update=stop)
    with pytest.raises(IndexInterrupted) as stopped:
        _index(store, root, progress=progress, commit_every=math.inf)
    assert (stopped.value.kept, stopped.value.total) == (4, 8)
    assert stopped.value.report.added == 4 and store.count() == 4
    assert store.check_consistency() == []
    again = _index(store, root)
    assert (again.unchanged, again.added) == (4, 4)


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt, as under a terminal: a runner started in the
    background hands its processes SIGINT ignored, and a child keeps that across exec."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_sigint_is_held_back_until_the_commit_is_done() -> None:
    reached = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after the signal")
    assert reached == ["after the signal"]


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_on_the_cli_keeps_the_committed_files(tmp_path: Path) -> None:
    root, db = tmp_path / "photos", tmp_path / "db"
    make_image_folder(root, 30, size=64)
    args = ["index", str(root), "--db", str(db), "--model", "classic", "--workers", "2", "-q"]
    done = subprocess.run(
        [sys.executable, str(HELPER), "3", "4", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 130, done.stderr
    assert "interrupted: kept 12 of 30 files; run the same command to finish" in done.stderr
    store = Store(db, create=False)
    try:
        assert store.count() == 12 and store.check_consistency() == []
        with_vector = store.conn.execute(
            "SELECT COUNT(DISTINCT s.item_id) FROM vectors v"
            " JOIN segments s ON s.id = v.segment_id WHERE v.space = 'classic'"
        ).fetchone()[0]
        assert with_vector == 12
    finally:
        store.close()
    report = xmodal_json(*args, "--json")
    assert (report["unchanged"], report["added"], report["skipped"]) == (12, 18, [])


def _fake_ocr(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def extract(self: RapidOcrExtractor, images: Sequence[Image.Image]) -> list[list[TextBox]]:
        calls.append(len(images))
        corners = ((1.0, 1.0), (30.0, 1.0), (30.0, 9.0), (1.0, 9.0))
        return [[TextBox("PARKING TICKET", corners, 0.97)] for _ in images]

    monkeypatch.setattr(RapidOcrExtractor, "extract", extract)
    return calls


def test_adding_a_model_does_not_read_pictures_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_ocr(monkeypatch)
    root = tmp_path / "photos"
    paths = make_image_folder(root, 3, size=64)
    col = Collection.open(tmp_path / "db")
    assert col.index([root], models=["classic", "ocr"]).added == 3
    assert sum(calls) == 3
    report = col.index([root], models=["bm25"])
    assert report.updated == 3 and sum(calls) == 3
    hits = col.search("parking", model="bm25")
    assert len(hits) == 3
    item = col.get(hits[0].id)
    assert item is not None and item.metadata["ocr"][0]["text"] == "PARKING TICKET"
    # the same bytes under another name are not read either
    Path(paths[0]).with_name("copy.jpg").write_bytes(Path(paths[0]).read_bytes())
    assert col.index([root]).added == 1 and sum(calls) == 3
    col.close()


def test_version_2_collection_gains_the_extracted_text_table(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    make_image_folder(root, 2, size=64)
    with Collection.open(tmp_path / "db") as col:
        col.index([root], models=["classic"])
    conn = sqlite3.connect(tmp_path / "db" / DB_NAME)
    # what a version 2 collection lacks: the extracted-text table (3) and heard words (4)
    conn.execute("DROP TABLE extracted_text")
    conn.execute("ALTER TABLE segments DROP COLUMN words")
    conn.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with Collection.open(tmp_path / "db") as col:
        assert col.store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert col.store.conn.execute("SELECT COUNT(*) FROM extracted_text").fetchone()[0] == 0
        assert len(col) == 2 and col.index([root]).unchanged == 2
