"""Videos: shots found and cut into windows, frames through the image spaces, subtitles
joined to the windows they overlap, moments with start/end, shot and thumbnail in search."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("av")
pytest.importorskip("scenedetect")

from awkward import xmodal, xmodal_json
from videos import SHOTS, drawing, make_audio_only, make_video, write_srt
from xmodal.collection import Collection
from xmodal.errors import DecodeError
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.media.video import frames_at, probe_video, scan_video
from xmodal.media.video_segments import shot_windows

#: shot lengths of ``holiday.mp4``: the last is long enough to be cut into two windows
DURATIONS = (3.0, 4.0, 2.5, 12.0)
CUES = ((3.2, 6.8, "the blue box opens slowly"), (12.0, 14.0, "a golden star shines at night"))


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("videos")
    shots = make_video(root / "holiday.mp4", DURATIONS, audio=True)
    write_srt(root / "holiday.srt", CUES)
    make_video(root / "turned.mp4", (2.0,), size=(64, 32), rotation=90)
    make_video(root / "tiny.mp4", (1.0,), size=(2, 2))
    make_audio_only(root / "voice.mp4")
    (root / "empty.mp4").write_bytes(b"")
    data = (root / "holiday.mp4").read_bytes()
    (root / "cut.mp4").write_bytes(data[: len(data) // 3])
    return root, shots


@pytest.fixture(scope="module")
def collection(folder: tuple[Path, list], tmp_path_factory: pytest.TempPathFactory):
    col = Collection.open(tmp_path_factory.mktemp("db"))
    report = col.index([folder[0]], models=["classic", "bm25"])
    yield col, report
    col.close()


def test_shots_are_found_at_their_cuts_and_long_ones_windowed(folder) -> None:
    root, shots = folder
    probe = probe_video(root / "holiday.mp4", DEFAULT_LIMITS)
    scan = scan_video(root / "holiday.mp4", probe, DEFAULT_LIMITS)
    assert scan.cuts == pytest.approx([s.start for s in shots[1:]], abs=0.11)
    windows = shot_windows(scan.cuts, scan.duration)
    assert [w.shot for w in windows] == [0, 1, 2, 3, 3]
    assert max(w.end - w.start for w in windows) <= 10.0
    assert shot_windows([], 4.0)[0].end == 4.0  # no cut: one shot


def test_frames_are_found_by_time_turned_and_capped(folder) -> None:
    root, _ = folder
    turned = frames_at(root / "turned.mp4", [0.0, 1.5], 512, rotation=90)
    assert turned[1.5].size == (32, 64)
    holiday = frames_at(root / "holiday.mp4", [0.5, 16.0], 80)
    assert max(holiday[16.0].size) == 80
    # the star shot is yellow on blue: the frame at 16 s is the star's, not the circle's
    r, _g, b = holiday[16.0].resize((1, 1)).getpixel((0, 0))
    assert b > r


def test_limits_refuse_long_and_large_videos(folder) -> None:
    root, _ = folder
    with pytest.raises(DecodeError, match="longer than"):
        probe_video(root / "holiday.mp4", DecodeLimits(max_video_seconds=5))
    with pytest.raises(DecodeError, match="larger than"):
        probe_video(root / "holiday.mp4", DecodeLimits(max_pixels=100))


def test_awkward_videos_are_indexed_or_skipped_with_reasons(collection) -> None:
    col, report = collection
    reasons = {os.path.basename(s.path): s.reason for s in report.skipped}
    assert reasons["empty.mp4"] == "empty file"
    assert "video" in reasons["cut.mp4"] or "corrupt" in reasons["cut.mp4"]
    paths = {os.path.basename(p) for p in col.ids()}
    assert {"holiday.mp4", "turned.mp4", "tiny.mp4", "voice.mp4"} <= paths
    assert "holiday.srt" not in paths  # a subtitle sidecar, not a document
    kinds = {os.path.basename(h.path): h.modality for h in col.search("voice", k=20)}
    assert kinds.get("voice.mp4") == "audio"


def test_a_subtitle_query_returns_its_moment(collection) -> None:
    col, _ = collection
    for start, end, text in CUES:
        hit = col.search(text, k=1)[0]
        assert os.path.basename(hit.path) == "holiday.mp4"
        assert hit.modality == "video"
        assert iou((hit.start, hit.end), (start, end)) >= 0.5
        assert hit.thumbnail is not None and Path(hit.thumbnail).is_file()


def test_an_image_of_a_shot_finds_its_moment(collection, folder, tmp_path: Path) -> None:
    col, _ = collection
    _, shots = folder
    for n, shot in enumerate(shots):
        shape, colour, bg = SHOTS[n]
        drawing(shape, colour, bg, (160, 96), 0.4).save(tmp_path / f"{shape}.png")
        hit = col.search(image=tmp_path / f"{shape}.png", k=1, model="classic")[0]
        assert os.path.basename(hit.path) == "holiday.mp4"
        assert iou((hit.start, hit.end), (shot.start, shot.end)) >= 0.5, (shape, hit)


def test_adjacent_windows_of_a_shot_are_one_moment(collection, folder, tmp_path: Path) -> None:
    col, _ = collection
    shape, colour, bg = SHOTS[3]
    drawing(shape, colour, bg, (160, 96), 0.5).save(tmp_path / "star.png")
    hits = col.search(image=tmp_path / "star.png", k=10, model="classic")
    stars = [h for h in hits if h.shot == 4 and h.path.endswith("holiday.mp4")]
    assert len(stars) == 1 and (stars[0].start, stars[0].end) == pytest.approx((9.5, 21.5))
    grouped = col.search(image=tmp_path / "star.png", k=10, model="classic", group_files=True)
    assert len({h.path for h in grouped}) == len(grouped)


def test_reindex_is_incremental_and_a_new_subtitle_updates(folder, tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    make_video(root / "clip.mp4", (2.0, 2.0))
    db = tmp_path / "db"
    first = xmodal_json(
        "index", root, "--db", db, "--model", "classic", "--model", "bm25", "--json"
    )
    assert first["added"] == 1
    again = xmodal_json("index", root, "--db", db, "--json")
    assert again["unchanged"] == 1 and again["added"] == 0
    write_srt(root / "clip.en.vtt".replace(".vtt", ".srt"), [(2.2, 3.8, "zebra crossing ahead")])
    third = xmodal_json("index", root, "--db", db, "--json")
    assert third["updated"] == 1
    found = xmodal_json("search", "zebra crossing", "--db", db, "--json")["results"][0]
    assert found["modality"] == "video" and iou((found["start"], found["end"]), (2.2, 3.8)) >= 0.5
    assert {"segment", "text", "thumbnail", "shot"} <= set(found)


def test_cli_shows_moment_shot_and_draws_a_contact_sheet(collection, tmp_path: Path) -> None:
    col, _ = collection
    sheet = tmp_path / "sheet.png"
    done = xmodal("search", "golden star", "--db", col.root, "--contact-sheet", sheet)
    assert done.returncode == 0, done.stderr
    assert 'holiday.mp4 @ 00:12–00:14  (shot 4)  "…a golden star' in done.stdout
    assert sheet.is_file() and sheet.stat().st_size > 1000
