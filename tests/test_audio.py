"""Audio as a medium: decoding within limits, spans with times, speech heard with word times,
moments found by words (English and Chinese), sounds by sounds, through Python and the CLI."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("soundfile")
pytest.importorskip("faster_whisper")

import soundfile as sf

from awkward import (
    INDEXED,
    make_awkward_audio,
    reason_matches,
    skipped,
    speech_recording,
    tone,
    xmodal,
    xmodal_json,
)
from xmodal.collection import Collection
from xmodal.errors import DecodeError
from xmodal.media.audio import decode_audio
from xmodal.media.audio_segments import merge_speech, windows
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.query.parse import parse_query

BIKE = "the red bicycle is parked outside the library"
GARDEN = "our meeting about the garden project starts at noon"


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple]]:
    root = tmp_path_factory.mktemp("audio") / "media"
    root.mkdir()
    memo, truth = speech_recording([(BIKE, 3.0), (GARDEN, 16.0)], 24.0)
    sf.write(root / "memo.wav", memo, 16_000)
    sf.write(root / "beep_tone.flac", tone(4.0, 440, 44100), 44100)
    sf.write(root / "hum_tone.wav", tone(4.0, 120, 22050), 22050)
    return root, {t[0]: (t[1], t[2]) for t in truth}


@pytest.fixture(scope="module")
def collection(recordings: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory):
    root, _ = recordings
    col = Collection.open(tmp_path_factory.mktemp("db"))
    report = col.index([root], models=["asr", "audio-classic", "minilm", "bm25"])
    assert report.added == 3 and not report.skipped
    yield col
    col.close()


def test_decodes_any_rate_depth_and_channels_to_16k_mono(tmp_path: Path) -> None:
    expect = make_awkward_audio(tmp_path)
    for name, what in expect.items():
        if what != INDEXED:
            with pytest.raises(DecodeError):
                decode_audio(tmp_path / name, DEFAULT_LIMITS)
            continue
        clip = decode_audio(tmp_path / name, DEFAULT_LIMITS)
        assert clip.samples.dtype == np.int16 and clip.samples.ndim == 1
    assert abs(decode_audio(tmp_path / "stereo_48k.flac", DEFAULT_LIMITS).duration - 2.0) < 0.01
    assert decode_audio(tmp_path / "low_rate_8k.wav", DEFAULT_LIMITS).source_rate == 8000


def test_duration_and_byte_caps_refuse(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", tone(3.0, 300), 16_000)
    with pytest.raises(DecodeError, match="longer than"):
        decode_audio(tmp_path / "a.wav", DecodeLimits(max_audio_seconds=2.0))
    with pytest.raises(DecodeError, match="larger than"):
        decode_audio(tmp_path / "a.wav", DecodeLimits(max_audio_bytes=1000))


def test_speech_is_merged_and_cut_and_the_rest_windowed() -> None:
    assert merge_speech([(0.0, 1.0), (1.3, 2.0), (5.0, 6.0)]) == [(0.0, 2.0), (5.0, 6.0)]
    cut = merge_speech([(0.0, 70.0)])
    assert len(cut) == 3 and all(e - s <= 28.0 for s, e in cut)
    assert windows(0.0, 4.0) == [(0.0, 4.0)]
    w = windows(0.0, 22.0)
    assert w[0] == (0.0, 10.0) and w[-1][1] == 22.0 and w[1][0] == 5.0


def test_awkward_audio_is_indexed_or_skipped_with_reasons(tmp_path: Path) -> None:
    expect = make_awkward_audio(tmp_path / "media")
    with Collection.open(tmp_path / "db") as col:
        report = col.index([tmp_path / "media"], models=["audio-classic"])
        paths = {Path(p).name for p in col.ids()}
        assert paths == {n for n, v in expect.items() if v == INDEXED}
        reasons = {Path(s.path).name: s.reason for s in report.skipped}
        for name, pattern in skipped(expect).items():
            assert reason_matches(pattern, reasons[name]), (name, reasons[name])
        again = col.index([tmp_path / "media"])
        assert again.unchanged == len(paths) and again.added == 0
        for item in col:
            segs = col.store.segments(item.id)
            assert segs and all(s.start is not None and s.end > s.start for s in segs)


def test_spoken_sentence_found_at_its_moment(collection, recordings) -> None:
    _, truth = recordings
    hits = collection.search("red bicycle parked outside the library", k=5)
    top = hits[0]
    assert top.path.endswith("memo.wav") and top.modality == "audio"
    assert iou((top.start, top.end), truth[BIKE]) >= 0.5
    assert "bicycle" in top.text.lower()
    item = collection.get(top.id)
    assert "bicycle" in item.metadata["asr"]["transcript"].lower()
    assert all(len(w) == 3 for w in item.metadata["asr"]["words"])
    # the words that matched, not the whole span
    garden = collection.search("garden project", k=5, model="bm25")[0]
    assert truth[GARDEN][0] <= garden.start < garden.end <= truth[GARDEN][1] + 0.5
    assert garden.end - garden.start < 3.0


def test_moments_of_one_file_rank_apart_unless_grouped(collection) -> None:
    q = "red bicycle garden project"
    apart = [h for h in collection.search(q, k=10) if h.path.endswith("memo.wav")]
    assert len(apart) >= 2 and len({h.segment for h in apart}) == len(apart)
    grouped = collection.search(q, k=10, group_files=True)
    assert [h.path for h in grouped].count(apart[0].path) == 1


def test_a_sound_finds_similar_sounds(collection, tmp_path: Path) -> None:
    sf.write(tmp_path / "query.wav", tone(2.0, 450, 16_000, level=0.1), 16_000)
    hits = collection.search(audio=tmp_path / "query.wav", model="audio-classic", k=3)
    assert hits[0].path.endswith("beep_tone.flac")
    mixed = collection.search(parse_query(f"aud:{tmp_path / 'query.wav'}"), model="audio-classic")
    assert mixed[0].id == hits[0].id


def test_audio_terms_parse_and_render() -> None:
    q = parse_query('"dog" + 0.5*aud:"my bark.wav" - img:x.png')
    assert [t.kind for t in q.terms] == ["text", "audio", "image"]
    assert parse_query(q.render()) == q


def test_schema_3_collection_opens_and_upgrades(tmp_path: Path) -> None:
    from xmodal.store.schema import _V1, MIGRATIONS, SCHEMA_VERSION
    from xmodal.store.sqlite import Store

    tmp_path.mkdir(exist_ok=True)
    conn = sqlite3.connect(tmp_path / "xmodal.db")
    conn.executescript(_V1)
    for v in (1, 2):
        MIGRATIONS[v](conn)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '3'), ('generation', '0')")
    conn.execute(
        "INSERT INTO items VALUES ('i1', '/x.txt', 'text', 'h', 1, 0, 's', '[]', '{}', 'hi', 0)"
    )
    conn.execute("INSERT INTO segments(item_id, ordinal, text) VALUES ('i1', 0, 'hi')")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
    assert store.segments("i1")[0].words == ()
    store.close()


def test_cli_finds_speech_in_english_and_chinese(recordings, tmp_path: Path) -> None:
    root, truth = recordings
    db = tmp_path / "db"
    report = xmodal_json("index", root, "--db", db, "--json", timeout=600)
    assert report["added"] == 3
    info = xmodal_json("info", "--db", db, "--json")
    assert {"asr", "audio-classic"} <= set(info["spaces"]) | set(info.get("encoders", []))
    out = xmodal_json("search", "red bicycle library", "--db", db, "--json", "--type", "audio")
    top = out["results"][0]
    assert top["modality"] == "audio" and {"start", "end", "text"} <= set(top)
    assert iou((top["start"], top["end"]), truth[BIKE]) >= 0.5
    zh = xmodal_json("search", "红色的自行车停在图书馆外面", "--db", db, "--json", "-k", "3")
    assert iou((zh["results"][0]["start"], zh["results"][0]["end"]), truth[BIKE]) >= 0.5
    shown = xmodal("search", "garden project", "--db", db, "--group", "file", "-k", "1")
    assert shown.returncode == 0
    assert "memo.wav @ 00:1" in shown.stdout and "garden" in shown.stdout.lower()
    bad = xmodal("search", "--audio", tmp_path / "none.wav", "--db", db)
    assert bad.returncode == 2 and "not found" in bad.stderr


def test_pocketsphinx_fallback_hears_words_with_times() -> None:
    from xmodal.encoders.registry import get_extractor

    ext = get_extractor("asr:pocketsphinx")
    said, _ = speech_recording([(BIKE, 0.2)], 4.5)
    words = ext.transcribe(said)
    assert "bicycle" in [w.text for w in words]
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
