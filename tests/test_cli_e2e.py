"""End to end: the real ``xmodal`` command in a subprocess, on a folder of awkward inputs.

Most tests use a collection built with ``--model classic`` only (no torch to load); one test
builds a collection with the default encoders to check text search.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from awkward import (
    EXIF_DESCRIPTION,
    EXIF_KEYWORDS,
    JSON_CAPTION,
    TXT_CAPTION,
    encoded,
    gif_frames,
    indexed,
    make_awkward_folder,
    reason_matches,
    rotated_upright,
    shape_image,
    skipped,
    xmodal,
    xmodal_json,
)
from xmodal.store.sqlite import Store

REPORT_KEYS = {"added", "updated", "removed", "unchanged", "moved", "skipped", "skipped_by_reason"}


@dataclass
class Built:
    root: Path
    db: Path
    expect: dict[str, str]
    report: dict[str, Any]
    ids: dict[str, str]

    def abs(self, rel: str) -> str:
        return str(self.root / rel)

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root)


def build(base: Path, *models: str, audio: bool = True, video: bool = True) -> Built:
    root = base / "media"
    db = base / "collection"
    expect = make_awkward_folder(root, audio, video)
    model_args = [a for m in models for a in ("--model", m)]
    report = xmodal_json("index", root, "--db", db, *model_args, "--json", timeout=180)
    ids = xmodal_json("ids", "--db", db, "--json")
    return Built(root, db, expect, report, ids)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("awkward"), "classic")


@contextmanager
def open_store(db: Path) -> Iterator[Store]:
    store = Store(db, create=False)
    try:
        yield store
    finally:
        store.close()


def search(b: Built, *args: str | os.PathLike[str]) -> list[dict[str, Any]]:
    out = xmodal_json("search", *args, "--db", b.db, "--json")
    assert set(out) == {"results"}
    results: list[dict[str, Any]] = out["results"]
    check_results(results, b.ids)
    return results


def check_results(results: list[dict[str, Any]], ids: dict[str, str]) -> None:
    """The ``search --json`` contract: typed fields, best first, ids as ``ids --json`` says."""
    for r in results:
        assert isinstance(r["id"], str) and r["id"]
        assert isinstance(r["path"], str)
        assert isinstance(r["score"], float)
        assert r["modality"] in {"image", "text", "audio", "video"}
        assert ids[r["path"]] == r["id"], r
        if r["modality"] in {"image", "text"}:
            assert "start" not in r and "end" not in r
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    # moments of one recording or video rank apart; any other item appears once
    keys = {(r["id"], r.get("start")) for r in results}
    assert len(keys) == len(results), "an item appears twice"


# -- the first index run --------------------------------------------------------------------


def test_index_report_has_the_contract_keys_and_types(built: Built) -> None:
    rep = built.report
    assert set(rep) == REPORT_KEYS
    for key in REPORT_KEYS - {"skipped", "skipped_by_reason"}:
        assert type(rep[key]) is int, key
    assert isinstance(rep["skipped"], list)
    assert sum(rep["skipped_by_reason"].values()) == len(rep["skipped"])
    for s in rep["skipped"]:
        assert set(s) == {"path", "reason"}
        assert isinstance(s["path"], str) and isinstance(s["reason"], str)
        assert s["reason"].strip() and "\n" not in s["reason"]
    good = indexed(built.expect)
    assert rep["added"] == len(good)
    assert (rep["updated"], rep["removed"], rep["unchanged"], rep["moved"]) == (0, 0, 0, 0)


def test_every_good_file_is_indexed_exactly_once(built: Built) -> None:
    assert isinstance(built.ids, dict)
    assert all(isinstance(v, str) and v for v in built.ids.values())
    assert len(set(built.ids.values())) == len(built.ids), "two paths share an id"
    got = {built.rel(p) for p in built.ids}
    assert got == indexed(built.expect)


def test_every_bad_file_is_skipped_with_a_reason_and_not_indexed(built: Built) -> None:
    reported: dict[str, str] = {}
    for s in built.report["skipped"]:
        rel = built.rel(s["path"])
        assert rel not in reported, f"{rel} reported twice"
        reported[rel] = s["reason"]
    want = skipped(built.expect)
    assert set(reported) == set(want), "skipped files differ from the expected ones"
    wrong = {
        rel: reported[rel]
        for rel, pattern in want.items()
        if not reason_matches(pattern, reported[rel])
    }
    assert not wrong, f"reasons that do not say what is wrong: {wrong}"
    in_ids = {built.rel(p) for p in built.ids}
    assert not in_ids & set(want)


def test_hidden_files_and_sidecars_are_neither_indexed_nor_reported(built: Built) -> None:
    quiet = {rel for rel, v in built.expect.items() if v == "ignored"}
    assert {".hidden.jpg", ".secret/inside.png", "captioned.txt", "json_captioned.json"} <= quiet
    in_ids = {built.rel(p) for p in built.ids}
    in_skipped = {built.rel(s["path"]) for s in built.report["skipped"]}
    assert not quiet & in_ids
    assert not quiet & in_skipped
    assert not any(p.startswith(".secret") for p in in_ids | in_skipped)


def test_collection_is_consistent_and_every_image_has_a_vector(built: Built) -> None:
    info = xmodal_json("info", "--db", built.db, "--check", "--json")
    assert info["problems"] == []
    assert info["items"] == len(indexed(built.expect))
    assert set(info["spaces"]) == {"classic"}
    with open_store(built.db) as store:
        rows = store.conn.execute(
            "SELECT i.path, COUNT(v.segment_id) FROM items i JOIN segments s ON s.item_id = i.id"
            " LEFT JOIN vectors v ON v.segment_id = s.id AND v.space = 'classic'"
            " WHERE i.modality = 'image' GROUP BY i.id"
        ).fetchall()
        # every window of a video has its vector too
        windows = store.conn.execute(
            "SELECT i.path, COUNT(v.segment_id) FROM items i JOIN segments s ON s.item_id = i.id"
            " LEFT JOIN vectors v ON v.segment_id = s.id AND v.space = 'classic'"
            " WHERE i.modality = 'video' GROUP BY s.id"
        ).fetchall()
    media = ("notes/", "audio/", "video/")
    images = {p for p in indexed(built.expect) if not p.startswith(media)}
    assert {built.rel(r[0]) for r in rows} == images
    assert all(r[1] == 1 for r in rows), [tuple(r) for r in rows if r[1] != 1]
    assert all(r[1] == 1 for r in windows), [tuple(r) for r in windows if r[1] != 1]
    videos = {p for p in indexed(built.expect) if p.startswith("video/")} - {"video/voice_only.mp4"}
    assert {built.rel(r[0]) for r in windows} == videos


def test_words_inside_and_beside_images_are_attached(built: Built) -> None:
    with open_store(built.db) as store:
        items = {built.rel(it.path): it for it in store.iter_items()}
    assert TXT_CAPTION in items["captioned.jpg"].text
    assert JSON_CAPTION in items["json_captioned.png"].text
    exif = items["modes/exif_text.jpg"]
    assert EXIF_DESCRIPTION in exif.text
    for kw in EXIF_KEYWORDS:
        assert kw in exif.metadata["embedded_text"]
    assert "café crème brûlée" in items["notes/latin1.txt"].text
    assert items["notes/readme.md"].metadata["title"] == "Gardening"
    # the first frame of an animation, the decoded size of every mode
    assert items["modes/animated.gif"].metadata["format"] == "GIF"
    assert items["modes/grey16.png"].metadata["width"] == 80


def test_image_size_metadata_is_as_displayed_after_exif_rotation(built: Built) -> None:
    # modes/rotated.jpg stores 64x96 pixels with orientation 6: it is shown (and indexed) as
    # the 96x64 picture rotated_upright(), so its width and height are 96 and 64.
    with open_store(built.db) as store:
        item = store.item(built.ids[built.abs("modes/rotated.jpg")])
    assert item is not None
    assert (item.metadata["width"], item.metadata["height"]) == rotated_upright().size


def test_a_second_run_finds_everything_unchanged(built: Built) -> None:
    again = xmodal_json("index", built.root, "--db", built.db, "--json")
    assert set(again) == REPORT_KEYS
    assert again["unchanged"] == len(indexed(built.expect))
    assert (again["added"], again["updated"], again["removed"], again["moved"]) == (0, 0, 0, 0)
    assert sorted(s["path"] for s in again["skipped"]) == sorted(
        s["path"] for s in built.report["skipped"]
    )
    assert xmodal_json("ids", "--db", built.db, "--json") == built.ids


# -- search -----------------------------------------------------------------------------------


def pictures(b: Built) -> set[str]:
    """The items with pixels: images and videos (a video file with only sound is a
    recording)."""
    return {
        b.abs(p)
        for p in indexed(b.expect)
        if not p.startswith(("notes/", "audio/")) and p != "video/voice_only.mp4"
    }


def test_search_results_follow_the_contract_and_k(built: Built) -> None:
    query = built.abs("red_square.jpg")
    three = search(built, "--image", query, "-k", "3")
    assert len(three) == 3
    assert three[0]["path"] == query
    assert three[0]["modality"] == "image"
    assert three[0]["score"] == pytest.approx(1.0, abs=1e-4)
    many = search(built, "--image", query, "-k", "100")
    # a classic-only collection embeds pixels only: every image and video and nothing else
    assert {r["path"] for r in many} == pictures(built)
    assert [r["id"] for r in many[:3]] == [r["id"] for r in three]


@pytest.mark.parametrize("rel", ["modes/cmyk.jpg", "names/party 🎉.png", "modes/grey16.png"])
def test_an_indexed_image_finds_itself_first(built: Built, rel: str) -> None:
    results = search(built, "--image", built.abs(rel), "-k", "5")
    assert results[0]["path"] == built.abs(rel)
    assert results[0]["score"] > results[1]["score"]


def test_an_animated_gif_is_indexed_by_its_first_frame(built: Built, tmp_path: Path) -> None:
    first = tmp_path / "first_frame.png"
    gif_frames()[0].save(first)
    results = search(built, "--image", first, "-k", "3")
    assert results[0]["path"] == built.abs("modes/animated.gif")
    assert results[0]["score"] > 0.98


def test_exif_orientation_is_applied_before_embedding(built: Built, tmp_path: Path) -> None:
    upright, as_stored = tmp_path / "upright.png", tmp_path / "as_stored.png"
    rotated_upright().save(upright)
    rotated_upright().transpose(Image.Transpose.ROTATE_90).save(as_stored)
    target = built.abs("modes/rotated.jpg")
    glob = str(built.root / "modes" / "rotated.*")
    up = search(built, "--image", upright, "--path", glob)
    raw = search(built, "--image", as_stored, "--path", glob)
    assert [r["path"] for r in up] == [target] == [r["path"] for r in raw]
    assert up[0]["score"] > 0.95
    assert up[0]["score"] > raw[0]["score"] + 0.1


def test_path_filter_restricts_results(built: Built) -> None:
    glob = str(built.root / "names" / "*")
    results = search(built, "--image", built.abs("red_square.jpg"), "--path", glob, "-k", "20")
    assert {built.rel(r["path"]) for r in results} == {
        p for p in indexed(built.expect) if p.startswith("names/")
    }


def test_date_filter_can_exclude_everything(built: Built) -> None:
    out = xmodal_json(
        "search",
        "--image",
        built.abs("red_square.jpg"),
        "--db",
        built.db,
        "--before",
        "2000-01-01",
        "--json",
    )
    assert out == {"results": []}


def test_a_huge_k_returns_everything_or_a_usage_error(built: Built) -> None:
    # 10**12 fails at once today (numpy refuses a 16 TB array); 10**9 would allocate 16 GB
    done = xmodal(
        "search",
        "--image",
        built.abs("red_square.jpg"),
        "--db",
        built.db,
        "-k",
        str(10**12),
        "--json",
        timeout=60,
    )
    if done.returncode == 2:
        assert done.stdout == "" and len(done.stderr.splitlines()) == 1
        return
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)["results"]
    check_results(results, built.ids)
    # every picture once and every video by its moments
    assert {r["path"] for r in results} == pictures(built)
    assert len(results) == len({(r["id"], r.get("start")) for r in results})


# -- incremental runs -------------------------------------------------------------------------


def _counts(rep: dict[str, Any]) -> tuple[int, int, int, int]:
    assert set(rep) == REPORT_KEYS
    return rep["added"], rep["updated"], rep["removed"], rep["moved"]


def test_incremental_runs_report_exactly_what_changed(tmp_path: Path) -> None:
    b = build(tmp_path, "classic")
    n = len(indexed(b.expect))
    ids = dict(b.ids)

    def index() -> dict[str, Any]:
        rep: dict[str, Any] = xmodal_json("index", b.root, "--db", b.db, "--json")
        return rep

    def stored_ids() -> dict[str, str]:
        with open_store(b.db) as store:
            return store.ids()

    # new pixels under the same name: updated, same id, and the new pixels are what is found
    red = b.root / "red_square.jpg"
    red.write_bytes(encoded(shape_image("circle", (250, 200, 0), (0, 0, 80)), "JPEG"))
    rep = index()
    assert _counts(rep) == (0, 1, 0, 0)
    assert rep["unchanged"] == n - 1
    assert stored_ids() == ids
    hits = search(b, "--image", red, "-k", "1")
    assert hits[0]["path"] == str(red) and hits[0]["score"] > 0.99

    # a deleted file leaves
    (b.root / "blue_circle.png").unlink()
    rep = index()
    assert _counts(rep) == (0, 0, 1, 0)
    assert rep["unchanged"] == n - 1
    del ids[b.abs("blue_circle.png")]
    assert stored_ids() == ids
    n -= 1

    # a renamed file keeps its id: updated (moved), not added and removed
    old, new = b.root / "green_triangle.webp", b.root / "moved" / "renamed triangle.webp"
    new.parent.mkdir()
    old.rename(new)
    rep = index()
    assert _counts(rep) == (0, 1, 0, 1)
    assert rep["unchanged"] == n - 1
    ids[str(new)] = ids.pop(str(old))
    assert xmodal_json("ids", "--db", b.db, "--json") == ids

    # a sidecar added beside an image updates that image, and is not a document of its own
    (b.root / "orange_stripes.txt").write_text("a sunset over a calm sea\n", encoding="utf-8")
    rep = index()
    assert _counts(rep) == (0, 1, 0, 0)
    assert rep["unchanged"] == n - 1
    assert stored_ids() == ids
    with open_store(b.db) as store:
        item = store.item(ids[b.abs("orange_stripes.bmp")])
    assert item is not None and "a sunset over a calm sea" in item.text

    # a new time stamp on the same bytes changes nothing
    st = os.stat(b.root / "purple_checker.tiff")
    os.utime(b.root / "purple_checker.tiff", ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))
    rep = index()
    assert _counts(rep) == (0, 0, 0, 0)
    assert rep["unchanged"] == n

    # a document that turned into binary junk is skipped and its stale item leaves
    (b.root / "notes" / "meeting.txt").write_bytes(b"\x00\xff" * 100)
    rep = index()
    assert _counts(rep) == (0, 0, 1, 0)
    assert any(
        s["path"] == b.abs("notes/meeting.txt") and "binary" in s["reason"] for s in rep["skipped"]
    )
    del ids[b.abs("notes/meeting.txt")]
    assert stored_ids() == ids
    info = xmodal_json("info", "--db", b.db, "--check", "--json")
    assert info["problems"] == [] and info["items"] == len(ids)


def test_renaming_an_image_with_its_sidecar_keeps_its_id(tmp_path: Path) -> None:
    root, db = tmp_path / "media", tmp_path / "collection"
    root.mkdir()
    (root / "IMG_0042.jpg").write_bytes(
        encoded(shape_image("ring", (200, 200, 30), (10, 60, 20)), "JPEG")
    )
    (root / "IMG_0042.txt").write_text(TXT_CAPTION + "\n", encoding="utf-8")
    (root / "other.png").write_bytes(encoded(shape_image("cross", (0, 0, 0), (255, 0, 0)), "PNG"))
    xmodal_json("index", root, "--db", db, "--model", "classic", "--json")
    before = xmodal_json("ids", "--db", db, "--json")
    (root / "IMG_0042.jpg").rename(root / "lighthouse.jpg")
    (root / "IMG_0042.txt").rename(root / "lighthouse.txt")
    rep = xmodal_json("index", root, "--db", db, "--json")
    after = xmodal_json("ids", "--db", db, "--json")
    assert after == {
        str(root / "lighthouse.jpg"): before[str(root / "IMG_0042.jpg")],
        str(root / "other.png"): before[str(root / "other.png")],
    }
    assert _counts(rep) == (0, 1, 0, 1)


# -- bad usage ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    stderr_has: str


def _usage_cases(b: Built, not_a_collection: Path, scratch: Path) -> list[Case]:
    db = str(b.db)
    corrupt = scratch / "corrupt"
    corrupt.mkdir()
    (corrupt / "xmodal.db").write_bytes(bytes(range(256)) * 16)
    img = b.abs("red_square.jpg")
    return [
        Case("unknown option", ("search", "--image", img, "--db", db, "--bogus"), "--bogus"),
        Case("unknown command", ("frobnicate", "--db", db), "frobnicate"),
        Case("missing --db", ("search", "--image", img, "--json"), "--db"),
        Case("index with an empty --db", ("index", str(b.root), "--db", "", "--json"), "--db"),
        Case("no query and no image", ("search", "--db", db, "--json"), "query"),
        Case("unclosed quote", ("search", '"unclosed', "--db", db, "--json"), "unclosed"),
        Case("empty query", ("search", "", "--db", db, "--json"), "empty"),
        Case("bad date", ("search", "--image", img, "--db", db, "--after", "notadate"), "date"),
        Case("bad type", ("search", "--image", img, "--db", db, "--type", "smell"), "smell"),
        Case(
            "not a collection",
            ("search", "--image", img, "--db", str(not_a_collection), "--json"),
            "collection",
        ),
        Case("k zero", ("search", "--image", img, "--db", db, "-k", "0", "--json"), "k"),
        Case("k negative", ("search", "--image", img, "--db", db, "-k", "-3", "--json"), "k"),
        Case("k not a number", ("search", "--image", img, "--db", db, "-k", "many"), "-k"),
        Case("missing query image", ("search", "--image", img + ".nope", "--db", db), "not found"),
        Case(
            "unknown space", ("search", "--image", img, "--db", db, "--model", "nosuch"), "nosuch"
        ),
        Case(
            "bad weight", ("search", "--image", img, "--db", db, "--weight", "classic=x"), "weight"
        ),
        Case("db is a file", ("index", str(b.root), "--db", img, "--json"), "not a folder"),
        Case("corrupt database", ("ids", "--db", str(corrupt), "--json"), "not a database"),
        Case(
            "unknown encoder",
            ("index", str(b.root), "--db", str(scratch / "new"), "--model", "nosuch"),
            "nosuch",
        ),
        # the only case that takes the collection's write lock
        Case("negative workers", ("index", str(b.root), "--db", db, "--workers", "-1"), "workers"),
    ]


USAGE_CASES = [
    "unknown option",
    "unknown command",
    "missing --db",
    "index with an empty --db",
    "no query and no image",
    "unclosed quote",
    "empty query",
    "bad date",
    "bad type",
    "not a collection",
    "k zero",
    "k negative",
    "k not a number",
    "missing query image",
    "unknown space",
    "bad weight",
    "db is a file",
    "corrupt database",
    "unknown encoder",
    "negative workers",
]
# bugs found by these tests: the case name -> why it fails today


@pytest.fixture(scope="module")
def usage_runs(built: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every bad command line, run at once (they are independent), by case name."""
    plain = tmp_path_factory.mktemp("plain")
    (plain / "notes.txt").write_text("not a collection\n")
    cases = _usage_cases(built, plain, tmp_path_factory.mktemp("scratch"))
    assert [c.name for c in cases] == USAGE_CASES
    before = sorted(os.listdir(plain))
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda c: xmodal(*c.args, timeout=60), cases))
    assert sorted(os.listdir(plain)) == before, "a failed search wrote into a plain folder"
    return {c.name: (c, d) for c, d in zip(cases, done, strict=True)}


@pytest.mark.parametrize(
    "name",
    USAGE_CASES,
)
def test_bad_usage_exits_2_with_one_line_on_stderr(usage_runs: dict[str, Any], name: str) -> None:
    case, done = usage_runs[name]
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stdout == ""
    assert done.stderr.endswith("\n")
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert case.stderr_has.lower() in lines[0].lower(), lines[0]


def test_bad_usage_leaves_the_collection_alone(built: Built, usage_runs: dict[str, Any]) -> None:
    assert xmodal_json("ids", "--db", built.db, "--json") == built.ids


# -- text search, with the default encoders ---------------------------------------------------


@pytest.mark.slow
def test_text_search_with_default_encoders(tmp_path: Path) -> None:
    # pictures and documents: what auto adds for recordings is tested in test_audio.py
    b = build(tmp_path, audio=False, video=False)
    assert b.report["added"] == len(indexed(b.expect))
    info = xmodal_json("info", "--db", b.db, "--json")
    # no CLIP weights here: auto is the classic descriptor, OCR and the bundled text models
    assert set(info["spaces"]) == {"classic", "e5-multilingual", "bm25"}

    # a .txt sidecar's caption finds its image; a .json sidecar's too
    hits = search(b, "lighthouse on a rocky coast", "-k", "5")
    assert b.abs("captioned.jpg") in [h["path"] for h in hits[:2]]
    hits = search(b, "a bowl of ramen noodles", "-k", "5", "--path", str(b.root / "*.png"))
    assert hits[0]["path"] == b.abs("json_captioned.png")
    assert all(h["path"].endswith(".png") for h in hits)

    # only text documents when asked for them
    hits = search(b, "quarterly budget meeting", "--type", "text", "-k", "10")
    assert hits[0]["path"] == b.abs("notes/meeting.txt")
    assert {h["modality"] for h in hits} == {"text"}
    assert {b.rel(h["path"]) for h in hits} <= {
        p for p in indexed(b.expect) if p.startswith("notes/")
    }
