"""Video → video: a clip cut from a video finds that video first, at the moment it was cut
from, through the library, the CLI (``--video`` and ``vid:PATH``) and the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("scenedetect")

from awkward import xmodal, xmodal_json
from videos import SHOTS, cut_clip, make_audio_only, make_video, write_srt
from xmodal.collection import Collection
from xmodal.errors import UsageError
from xmodal.query.parse import Term, parse_query
from xmodal.spaces.video_align import align

#: shots of other colours, so a third video shares no shot with the first
OTHER = (
    ("circle", (120, 0, 160), (200, 255, 200)),
    ("square", (250, 120, 0), (255, 255, 255)),
    ("star", (0, 200, 200), (90, 0, 0)),
)
#: where the query clip is cut from ``a.mp4`` (seconds): the end of one shot to the start of
#: the one after next
CUT = (1.0, 5.0)


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("vq")
    media = root / "media"
    media.mkdir()
    make_video(media / "a.mp4", (2.0, 2.0, 2.0, 2.0))
    # the same shots in the opposite order: only an alignment that keeps order tells it apart
    make_video(media / "b.mp4", (2.0, 2.0, 2.0, 2.0), shots=SHOTS[::-1])
    make_video(media / "c.mp4", (2.0, 2.0, 2.0), shots=OTHER)
    queries = root / "queries"
    queries.mkdir()
    cut_clip(media / "a.mp4", queries / "from a.mp4", *CUT)
    # a captioned clip: its words are searched in the text spaces, where only c has them
    write_srt(media / "c.srt", [(0.5, 2.0, "a zebra crossing at night")])
    cut_clip(media / "a.mp4", queries / "captioned.mp4", *CUT)
    write_srt(queries / "captioned.srt", [(0.2, 1.5, "zebra crossing")])
    with Collection.open(root / "db") as col:
        col.index([media], models=["classic", "bm25"])
    return root / "db", queries / "from a.mp4", media


def test_a_clip_finds_the_video_it_was_cut_from_at_its_moment(made) -> None:
    db, clip, _ = made
    with Collection.open(db, create=False) as col:
        hits = col.search(video=clip, k=5)
        assert [Path(h.path).name for h in hits[:3]] == ["a.mp4", "b.mp4", "c.mp4"]
        top = hits[0]
        assert top.modality.value == "video" and top.start is not None and top.end is not None
        assert iou((top.start, top.end), CUT) >= 0.9
        assert top.thumbnail is not None and Path(top.thumbnail).is_file()
        # the mixed syntax says the same
        same = col.search(f'vid:"{clip}"', k=5)
        assert [h.to_json() for h in same] == [h.to_json() for h in hits]


def test_a_clips_words_are_searched_in_the_text_spaces(made) -> None:
    db, clip, _ = made
    captioned = clip.with_name("captioned.mp4")
    with Collection.open(db, create=False) as col:
        by_words = col.search(video=captioned, k=3, model="bm25")
        assert [Path(h.path).name for h in by_words] == ["c.mp4"]
        assert by_words[0].start is not None and by_words[0].start < 2.0
        # the clip without captions has no words: a text space alone cannot search with it
        with pytest.raises(UsageError, match="no space"):
            col.search(video=clip, k=3, model="bm25")
        by_pixels = col.search(video=captioned, k=1, model="classic")
        assert Path(by_pixels[0].path).name == "a.mp4"


def test_cli_video_option_and_term_answer_moments(made) -> None:
    db, clip, _ = made
    found = xmodal_json("search", "--video", clip, "--db", db, "--json")["results"]
    top = found[0]
    assert {"modality", "path", "start", "end", "segment", "text", "thumbnail"} <= set(top)
    assert top["modality"] == "video" and Path(top["path"]).name == "a.mp4"
    assert iou((top["start"], top["end"]), CUT) >= 0.9
    mixed = xmodal_json("search", f'vid:"{clip}"', "--db", db, "--json")["results"]
    assert mixed == found
    done = xmodal("search", "--video", clip.parent / "absent.mp4", "--db", db)
    assert done.returncode == 2 and "query video not found" in done.stderr


def test_bad_query_clips_are_usage_errors(made, tmp_path: Path) -> None:
    db, _, media = made
    make_audio_only(tmp_path / "voice.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with Collection.open(db, create=False) as col:
        with pytest.raises(UsageError, match="aud:"):
            col.search(video=tmp_path / "voice.mp4")
        with pytest.raises(UsageError, match="empty"):
            col.search(video=tmp_path / "empty.mp4")
        with pytest.raises(UsageError, match="not a supported video"):
            col.search(video=media.parent / "db" / "xmodal.db")


def test_video_terms_parse_and_render() -> None:
    q = parse_query('vid:"my clip.mp4" + 0.5*video:b.webm - "rain"')
    assert [t.kind for t in q.terms] == ["video", "video", "text"]
    assert q.videos()[0] == Term("video", "my clip.mp4", 1.0)
    assert parse_query(q.render()) == q
    with pytest.raises(Exception, match="vid: needs a path"):
        parse_query("vid:")


def test_alignment_keeps_order() -> None:
    # three query windows against four: in order, row 0 is best at 1, row 1 at 2...
    sim = np.array([[0.1, 0.9, 0.2, 0.1], [0.1, 0.2, 0.9, 0.1], [0.1, 0.2, 0.1, 0.9]])
    score, path = align(sim)
    assert path == [1, 2, 3] and score == pytest.approx(0.9)
    # ...but a match out of order is refused: row 1 cannot go back before row 0's column
    shuffled = np.array([[0.1, 0.1, 0.9], [0.9, 0.1, 0.1]])
    score, path = align(shuffled)
    assert path[0] <= path[1] and score < 0.9


def test_an_uploaded_clip_is_searched_as_a_video(made, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from xmodal.serve import ServeSettings, create_app

    db, clip, _ = made
    with Collection.open(db, create=False) as col:
        expected = [h.to_json() for h in col.search(video=clip, k=3)]
        app = create_app(col, ServeSettings(thumb_dir=tmp_path / "thumbs"))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            answer: Any = client.post(
                "/api/search",
                files={"file": ("holiday.mp4", clip.read_bytes(), "video/mp4")},
                data={"k": 3},
            )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["path"] for r in results] == [e["path"] for e in expected]
    assert Path(results[0]["path"]).name == "a.mp4" and results[0]["modality"] == "video"
    assert results[0]["start"] == expected[0]["start"] and results[0]["end"] == expected[0]["end"]


def test_an_uploaded_mp4_with_only_sound_is_searched_as_a_recording(made, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from xmodal.serve import ServeSettings, create_app

    pytest.importorskip("librosa")
    db, _, _ = made
    make_audio_only(tmp_path / "memo.mp4")
    data = (tmp_path / "memo.mp4").read_bytes()
    assert data[4:8] == b"ftyp"
    # the video collection hears nothing: a recording cannot search it
    with Collection.open(db, create=False) as col:
        app = create_app(col, ServeSettings(thumb_dir=tmp_path / "thumbs"))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            answer: Any = client.post("/api/search", files={"file": ("memo.mp4", data)})
    assert answer.status_code == 415, answer.text
    media = tmp_path / "sounds"
    media.mkdir()
    make_audio_only(media / "same.mp4")
    with Collection.open(tmp_path / "db-audio") as col:
        col.index([media], models=["audio-classic"])
        app = create_app(col, ServeSettings(thumb_dir=tmp_path / "thumbs"))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            answer = client.post("/api/search", files={"file": ("memo.mp4", data)})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert Path(results[0]["path"]).name == "same.mp4" and results[0]["modality"] == "audio"
