"""Awkward videos: each indexed correctly or skipped with its reason; the timed text of a
video (its soundtrack's speech, an embedded subtitle stream) found at its moment; variable
frame rates keep their timestamps; a 4K frame stays within the limits; a damaged packet in the
middle costs only itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("av")
pytest.importorskip("scenedetect")

from awkward import INDEXED, SKIP, reason_matches, speech_recording
from videos import (
    SHOTS,
    add_subtitle_stream,
    drawing,
    make_awkward_videos,
    make_vfr_video,
    make_video,
    write_srt,
)
from xmodal.collection import Collection
from xmodal.errors import DecodeError
from xmodal.ingest.video import THUMB_SIDE, thumbnail_path
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.media.video import frames_at, probe_video, scan_video

#: (seconds, frames a second) of each shot of the variable-frame-rate video
VFR = ((2.0, 5), (1.5, 20), (1.5, 8))


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("awkward-videos")
    expect = make_awkward_videos(root / "media")
    vfr = make_vfr_video(root / "media" / "vfr_three.mkv", VFR)
    expect["vfr_three.mkv"] = INDEXED
    col = Collection.open(root / "db")
    report = col.index([root / "media"], models=["classic", "bm25"])
    yield root / "media", expect, col, report, vfr
    col.close()


def test_each_awkward_video_is_indexed_or_skipped_with_its_reason(awkward) -> None:
    media, expect, col, report, _ = awkward
    reasons = {os.path.relpath(s.path, media): s.reason for s in report.skipped}
    paths = {os.path.relpath(p, media) for p in col.ids()}
    for name, what in expect.items():
        if what == INDEXED:
            assert name in paths and name not in reasons, name
        else:
            assert name not in paths, name
            assert reason_matches(what[len(SKIP) :], reasons[name]), (name, reasons[name])
    assert col.store.check_consistency() == []
    kinds = {os.path.basename(it.path): it.modality.value for it in col.store.iter_items()}
    assert kinds["voice_only.mp4"] == "audio" and kinds["one_pixel.mkv"] == "video"
    for it in col.store.iter_items():
        if it.modality.value == "video":
            for seg in col.store.segments(it.id):
                assert thumbnail_path(col.root, it.content_hash, seg.ordinal).is_file()


def test_variable_frame_rate_keeps_each_frames_time(awkward) -> None:
    media, _, col, _, shots = awkward
    path = media / "vfr_three.mkv"
    scan = scan_video(path, probe_video(path, DEFAULT_LIMITS), DEFAULT_LIMITS)
    assert scan.cuts == pytest.approx([s.start for s in shots[1:]], abs=0.06)
    # the 20-a-second shot has four times the frames of the 5-a-second one per second
    fast = [t for t in scan.times if shots[1].start <= t < shots[1].end]
    slow = [t for t in scan.times if shots[0].start <= t < shots[0].end]
    assert len(fast) / 1.5 > 3 * len(slow) / 2.0
    stored = col.store.item_by_path(str(path))
    assert stored is not None
    item = stored.item
    spans = [(s.start, s.end) for s in col.store.segments(item.id)]
    assert spans[1] == pytest.approx((shots[1].start, shots[1].end), abs=0.06)


def test_a_4k_frame_is_decoded_within_the_limits(awkward, tmp_path: Path) -> None:
    media, _, col, _, _ = awkward
    path = media / "one_4k_frame.mp4"
    stored = col.store.item_by_path(str(path))
    assert stored is not None
    item = stored.item
    assert (item.metadata["width"], item.metadata["height"]) == (3840, 2160)
    frame = frames_at(path, [0.0], DEFAULT_LIMITS.max_side)[0.0]
    assert max(frame.size) == DEFAULT_LIMITS.max_side
    from PIL import Image

    thumb = thumbnail_path(col.root, item.content_hash, 0)
    with Image.open(thumb) as im:
        assert max(im.size) <= THUMB_SIDE
    with pytest.raises(DecodeError, match="larger than"):
        probe_video(path, DecodeLimits(max_pixels=3840 * 2160 - 1))


def test_a_damaged_packet_mid_stream_costs_only_itself(awkward, tmp_path: Path) -> None:
    media, _, col, _, _ = awkward
    path = media / "corrupt_middle.mp4"
    scan = scan_video(path, probe_video(path, DEFAULT_LIMITS), DEFAULT_LIMITS)
    # frames after the damage decode again from the next keyframe on, to the end
    assert scan.times[-1] >= 1.8 and len(scan.times) >= 14
    # the second shot (a square), after the damage, is found at its moment
    query = tmp_path / "square.png"
    shape, colour, bg = SHOTS[1]
    drawing(shape, colour, bg, (64, 48), 0.9).save(query)
    hits = [h for h in col.search(image=query, k=20) if h.path == str(path)]
    assert hits and hits[0].start is not None and hits[0].start >= 0.9


def test_an_embedded_subtitle_stream_is_found_at_its_cue(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    make_video(tmp_path / "plain.mp4", (2.0, 2.0, 2.0), size=(64, 48))
    write_srt(tmp_path / "cues.srt", [(2.2, 3.6, "the lighthouse keeper waves hello")])
    add_subtitle_stream(tmp_path / "plain.mp4", tmp_path / "cues.srt", media / "film.mkv")
    with Collection.open(tmp_path / "db") as col:
        report = col.index([media], models=["classic", "bm25"])
        assert report.added == 1 and not report.skipped
        stored = col.store.item_by_path(str(media / "film.mkv"))
        assert stored is not None and stored.item.metadata["subtitles"] == ["embedded"]
        hit = col.search("lighthouse keeper", k=1)[0]
    assert hit.path == str(media / "film.mkv")
    assert hit.start is not None and hit.end is not None
    assert iou((hit.start, hit.end), (2.2, 3.6)) >= 0.5


@pytest.mark.slow
def test_the_soundtracks_speech_is_found_at_its_moment(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    sound, truth = speech_recording(
        [
            ("the red bicycle is parked by the bakery", 0.5),
            ("a green frog jumps into the pond", 6.5),
        ],
        12.0,
    )
    media = tmp_path / "media"
    media.mkdir()
    make_video(media / "narrated.mp4", (6.0, 6.0), size=(64, 48), soundtrack=sound)
    with Collection.open(tmp_path / "db") as col:
        report = col.index([media], models=["asr", "classic", "bm25"])
        assert report.added == 1 and not report.skipped
        for text, start, end in truth:
            hit = col.search(text, k=1, model="bm25")[0]
            assert hit.path == str(media / "narrated.mp4") and hit.modality.value == "video"
            assert hit.start is not None and hit.end is not None
            assert iou((hit.start, hit.end), (start, end)) >= 0.5, (text, hit.start, hit.end)


def test_auto_adds_the_audio_spaces_for_a_folder_of_videos(tmp_path: Path) -> None:
    from xmodal.catalogue import holds_audio

    (tmp_path / "pictures").mkdir()
    drawing(*SHOTS[0], (32, 32)).save(tmp_path / "pictures" / "a.png")
    assert not holds_audio([str(tmp_path / "pictures")])
    (tmp_path / "films").mkdir()
    make_video(tmp_path / "films" / "clip.mkv", (0.5,), size=(32, 32))
    assert holds_audio([str(tmp_path / "films")])
    assert holds_audio([str(tmp_path / "films" / "clip.mkv")])


def test_thumbnails_of_removed_and_changed_videos_are_pruned(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    make_video(media / "kept.mp4", (1.0,), size=(48, 32))
    make_video(media / "changed.mp4", (1.0,), size=(48, 32), shots=SHOTS[1:])
    make_video(media / "gone.mp4", (1.0, 1.0), size=(48, 32), shots=SHOTS[2:])
    with Collection.open(tmp_path / "db") as col:
        col.index([media], models=["classic"])
        thumbs = col.root / "thumbnails"
        before = {p.name for p in thumbs.rglob("*.jpg")}
        assert len(before) == 4
        (media / "gone.mp4").unlink()
        make_video(media / "changed.mp4", (1.0,), size=(48, 32), shots=SHOTS[3:])
        col.index([media], models=["classic"])
        after = {p.name for p in thumbs.rglob("*.jpg")}
        hashes = {it.content_hash for it in col.store.iter_items()}
        assert {name.rsplit("-", 1)[0] for name in after} == hashes and len(after) == 2
        col.remove([str(media / "kept.mp4")])
        assert len(list(thumbs.rglob("*.jpg"))) == 1
