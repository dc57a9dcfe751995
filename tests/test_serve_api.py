"""The HTTP API on a real app: every endpoint, its bad inputs, and a real server process."""

from __future__ import annotations

import io
import signal
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest

from awkward import cli_env, encoded, make_image_folder, png_claiming, xmodal_json
from helpers import draw_image
from serve_helpers import SECRET, Served, app_client, build_collection, serve_process
from xmodal.collection import Collection
from xmodal.serve import ServeSettings


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return build_collection(tmp_path_factory.mktemp("serve-api"))


@pytest.fixture(scope="module")
def client(served: Served) -> Any:
    with app_client(served) as c:
        yield c


def _outside(path: str) -> bool:
    return "/elsewhere/" in path or path.endswith("linked.txt")


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<800h", *([0] * 800)))
    return buffer.getvalue()


def test_search_answers_what_the_cli_answers(served: Served, client: Any) -> None:
    api = client.get("/api/search", params={"q": "cat", "k": 5})
    assert api.status_code == 200
    cli = xmodal_json("search", "cat", "-k", "5", "--db", served.db, "--json")
    assert api.json() == cli
    assert api.json()["results"][0]["id"] == served.id("notes/cats.md")


def test_search_in_other_languages_and_mixed_syntax(served: Served, client: Any) -> None:
    hits = client.get("/api/search", params={"q": "猫は眠っています"}).json()["results"]
    assert hits[0]["id"] == served.id("notes/cats.md")
    mixed = client.get("/api/search", params={"q": '"bread" - cat'}).json()["results"]
    assert mixed[0]["id"] == served.id("notes/recipe.txt")


def test_filters_paging_and_model(served: Served, client: Any) -> None:
    def ids(**params: Any) -> list[str]:
        answer = client.get("/api/search", params={"q": "bicycle forest cat bread", **params})
        assert answer.status_code == 200, answer.text
        return [h["id"] for h in answer.json()["results"]]

    everything = ids(k=4)
    assert ids(k=2) + ids(k=2, offset=2) == everything
    texts = ids(type="text", k=10)
    assert texts and all(
        i in {served.id("notes/cats.md"), served.id("notes/recipe.txt")} for i in texts
    )
    assert ids(path="*/pics/*", k=10) and all(
        served.id(p) in ids(path="*/pics/*", k=10) for p in ("pics/red_bicycle.png",)
    )
    assert ids(before="1990-01-01") == []
    assert ids(after="1990-01-01", k=4) == everything
    only_bm25 = client.get("/api/search", params={"q": "cat", "model": "bm25"}).json()
    assert all(set(h["spaces"]) == {"bm25"} for h in only_bm25["results"])


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "nothing to search for"),
        ({"q": "   "}, "nothing to search for"),
        ({"q": "cat", "k": 0}, "k"),
        ({"q": "cat", "k": "many"}, "k"),
        ({"q": "cat", "k": 10_000}, "k"),
        ({"q": "cat", "offset": -1}, "offset"),
        ({"q": "cat", "type": "sound"}, "unknown type"),
        ({"q": "cat", "after": "yesterday"}, "not a date"),
        ({"q": "cat", "model": "nope"}, "no space"),
        ({"q": '"unclosed'}, "unclosed"),
        ({"q": "x" * 3000}, "q"),
    ],
)
def test_bad_searches_are_400_with_a_reason(
    client: Any, params: dict[str, Any], fragment: str
) -> None:
    answer = client.get("/api/search", params=params)
    assert answer.status_code == 400
    assert fragment in answer.json()["error"]


def test_queries_naming_files_are_refused_alike(served: Served, client: Any) -> None:
    real = served.media / "pics" / "red_bicycle.png"
    answers = [
        client.get("/api/search", params={"q": q}).json()
        for q in (f"img:{real}", "img:/does/not/exist.png", f"cat + 0.5*image:{real}", "aud:/etc/x")
    ]
    assert len({a["error"] for a in answers}) == 1
    assert "upload" in answers[0]["error"] and str(real) not in answers[0]["error"]


def test_upload_is_searched_as_its_content(served: Served, client: Any, tmp_path: Path) -> None:
    data = (served.media / "pics" / "red_bicycle.png").read_bytes()
    copy = tmp_path / "1.png"
    copy.write_bytes(data)
    with Collection.open(served.db, create=False) as col:
        # the same hits, less those the server never shows (their real path is outside)
        found = col.search(image=copy, k=10)
        expected = [h.to_json() for h in found if not _outside(h.path)][:5]
    for name in ("photo.png", "../../etc/passwd", "cat forest bread.png"):
        answer = client.post(
            "/api/search", files={"file": (name, data, "image/png")}, data={"k": 5}
        )
        assert answer.status_code == 200
        assert answer.json()["results"] == expected
    assert expected[0]["id"] == served.id("pics/red_bicycle.png")
    with_words = client.post(
        "/api/search", files={"file": ("a.png", data)}, data={"q": "forest", "type": "image"}
    ).json()["results"]
    assert with_words and all(h["modality"] == "image" for h in with_words)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"not a picture at all", 400),
        (encoded(draw_image((1, 2, 3)), "PNG")[:120], 400),
        (png_claiming(100_000, 100_000), 413),
        (_wav(), 415),  # this collection has no space that takes sound
    ],
    ids=["empty", "garbage", "truncated", "too-many-pixels", "audio"],
)
def test_bad_uploads_are_4xx(client: Any, body: bytes, status: int) -> None:
    answer = client.post("/api/search", files={"file": ("x.png", body, "image/png")})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]


def test_upload_without_file_and_too_large(served: Served, client: Any) -> None:
    assert client.post("/api/search", data={"q": "cat"}).status_code == 400
    settings = ServeSettings(max_upload_bytes=2000, thumb_dir=served.db.parent / "thumbs")
    with app_client(served, settings) as small:
        big = encoded(draw_image((9, 9, 9), size=400), "BMP")
        answer = small.post("/api/search", files={"file": ("x.bmp", big)})
        assert answer.status_code == 413 and "larger than" in answer.json()["error"]


def test_item_detail(served: Served, client: Any) -> None:
    item = client.get(f"/api/items/{served.id('pics/green_forest.png')}").json()
    assert item["name"] == "green_forest.png" and item["modality"] == "image"
    assert "pine trees" in item["text"] and item["has_picture"] is True
    assert item["box_frame"] == [96, 96] and item["segments"][0]["ordinal"] == 0
    note = client.get(f"/api/items/{served.id('notes/cats.md')}").json()
    assert note["has_picture"] is False and "sofa" in note["segments"][0]["text"]
    for bad in ("0000000000000000", "no-such-item", "x" * 65, "a.b"):
        answer = client.get(f"/api/items/{bad}")
        assert answer.status_code in (400, 404) and "error" in answer.json()


def test_thumbnails_are_sized_and_cached(served: Served, client: Any) -> None:
    url = f"/api/items/{served.id('pics/red_bicycle.png')}/thumbnail"
    first = client.get(url, params={"size": 64})
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    from PIL import Image

    assert max(Image.open(io.BytesIO(first.content)).size) <= 128
    cached = sorted((served.db.parent / "thumbs").rglob("*.jpg"))
    assert client.get(url, params={"size": 100}).content == first.content
    assert sorted((served.db.parent / "thumbs").rglob("*.jpg")) == cached
    assert client.get(url, params={"size": 5000}).status_code == 400
    note = client.get(f"/api/items/{served.id('notes/cats.md')}/thumbnail")
    assert note.status_code == 404


def test_media_with_ranges(served: Served, client: Any) -> None:
    rel = "pics/blue_square.jpg"
    data = (served.media / rel).read_bytes()
    url = f"/api/items/{served.id(rel)}/media"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert "sandbox" in whole.headers["content-security-policy"]
    part = client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == data[-5:]
    assert client.get(url, headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416
    note = client.get(f"/api/items/{served.id('notes/recipe.txt')}/media")
    assert note.headers["content-type"].startswith("text/plain") and b"bread" in note.content


def test_similar_leaves_the_item_out(served: Served, client: Any) -> None:
    for rel in ("pics/red_bicycle.png", "notes/cats.md"):
        answer = client.get(f"/api/items/{served.id(rel)}/similar", params={"k": 3})
        assert answer.status_code == 200
        hits = answer.json()["results"]
        assert served.id(rel) not in [h["id"] for h in hits] and len(hits) <= 3


def test_info_health_docs_and_page(client: Any) -> None:
    info = client.get("/api/info").json()
    assert info["items"] >= 5 and set(info["spaces"]) == {"classic", "bm25"}
    assert client.get("/healthz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/search",
        "/api/items/{item_id}",
        "/api/items/{item_id}/thumbnail",
        "/api/items/{item_id}/media",
        "/api/items/{item_id}/similar",
        "/api/info",
        "/healthz",
    ):
        assert path in paths
    assert {"get", "post"} <= set(paths["/api/search"])
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and '<ol id="grid"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/no/such/page").json() == {"error": "Not Found"}


def test_a_real_server_process(served: Served) -> None:
    with serve_process(served.db) as (url, proc):
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            hits = http.get("/api/search", params={"q": "bicycle"}).json()["results"]
            assert hits[0]["id"] == served.id("pics/red_bicycle.png")
            assert SECRET not in http.get("/api/search", params={"q": SECRET}).text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        assert proc.stderr is not None and "stopped" in proc.stderr.read()


def test_searching_while_indexing_runs(tmp_path: Path) -> None:
    """Every answer while another process indexes the same collection is whole: no error,
    and every hit's item can be opened."""
    served = build_collection(tmp_path)
    more = tmp_path / "media" / "more"
    make_image_folder(more, 40, size=200)
    indexer = subprocess.Popen(
        [sys.executable, "-m", "xmodal.cli", "index", str(more), "--db", str(served.db), "-q"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    answers = 0
    with app_client(served) as client:
        while indexer.poll() is None or answers < 3:
            answer = client.get("/api/search", params={"q": "bicycle forest", "k": 20})
            assert answer.status_code == 200, answer.text
            for hit in answer.json()["results"]:
                assert client.get(f"/api/items/{hit['id']}").status_code == 200
            answers += 1
        assert indexer.wait() == 0
        assert client.get("/api/info").json()["items"] == len(served.ids) + 40


def test_api_docs_need_no_internet(client: Any) -> None:
    """The docs pages name only scripts this server sends, and it sends them."""
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assert "cdn." not in html.text and "https://" not in html.text.split("<body")[-1]
        scripts = [s.split('"')[0] for s in html.text.split('src="')[1:]]
        assert scripts and all(s.startswith("/") for s in scripts)
        for script in scripts:
            asset = client.get(script)
            assert asset.status_code == 200 and len(asset.content) > 100_000
