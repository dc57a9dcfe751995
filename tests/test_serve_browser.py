"""The page in Debian's chromium, driven by Playwright: search by words, drop a picture, open
a hit, play a moment, keyboard use, bookmarks and phone width. Screenshots are kept in the
test's folder."""

from __future__ import annotations

import base64
import io
import os
import shutil
import struct
import wave
from pathlib import Path
from typing import Any

import pytest

from serve_helpers import build_collection, uvicorn_thread
from xmodal.serve import ServeSettings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="Debian's chromium is not installed (scripts/test.sh installs it with apt-get)",
)
WAIT = 30_000  # ms: a ceiling on waiting for the page, never a measured time


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    served = build_collection(tmp_path_factory.mktemp("serve-browser"))
    settings = ServeSettings(thumb_dir=served.db.parent / "thumbs")
    with uvicorn_thread(served, settings) as url:
        yield served, url


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT)
    yield page
    context.close()


def _search(page: Any, url: str, words: str) -> None:
    page.goto(url + "/")
    page.fill("#q", words)
    page.press("#q", "Enter")
    page.wait_for_selector(".hit")


def test_words_show_thumbnails(page: Any, site: Any, tmp_path: Path) -> None:
    served, url = site
    _search(page, url, "bicycle")
    first = page.locator(".hit").first
    assert first.get_attribute("data-id") == served.id("pics/red_bicycle.png")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.hit img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert "red_bicycle.png" in first.inner_text()
    assert "results for" in page.inner_text("#status")
    page.screenshot(path=str(tmp_path / "words.png"))


def test_drop_a_picture(page: Any, site: Any, tmp_path: Path) -> None:
    served, url = site
    page.goto(url + "/")
    data = base64.b64encode((served.media / "pics" / "blue_square.jpg").read_bytes()).decode()
    page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.jpg", {type: "image/jpeg"}));
            document.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        data,
    )
    page.wait_for_selector(".hit")
    assert page.locator(".hit").first.get_attribute("data-id") == served.id("pics/blue_square.jpg")
    assert page.is_visible("#picture")
    page.screenshot(path=str(tmp_path / "dropped.png"))


def test_open_a_hit_and_more_like_this(page: Any, site: Any, tmp_path: Path) -> None:
    served, url = site
    _search(page, url, "cat")
    page.locator(".hit").first.click()
    page.wait_for_selector("#detail .why")
    assert page.inner_text("#detail h2") == "cats.md"
    assert page.locator("#detail mark").first.inner_text().lower() == "cat"
    page.screenshot(path=str(tmp_path / "detail.png"))
    page.click("#similar")
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('like')")
    ids = [h.get_attribute("data-id") for h in page.locator(".hit").all()]
    assert served.id("notes/cats.md") not in ids


def _wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = int(8000 * seconds)
        w.writeframes(struct.pack(f"<{frames}h", *([0] * frames)))
    return buffer.getvalue()


def _ranged(route: Any, data: bytes) -> None:
    """Answer a media request as the server does: the part a Range header asks for."""
    wanted = route.request.headers.get("range", "")
    headers = {"Content-Type": "audio/wav", "Accept-Ranges": "bytes"}
    if not wanted.startswith("bytes="):
        route.fulfill(body=data, headers=headers)
        return
    first, _, last = wanted[6:].partition("-")
    start, end = int(first or 0), int(last) if last else len(data) - 1
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    route.fulfill(status=206, body=data[start : end + 1], headers=headers)


def test_play_a_moment(page: Any, site: Any) -> None:
    """An audio hit starts playing at its moment; the API's answers are given by the test,
    since the collections here hold pictures and text."""
    _, url = site
    hit = {
        "id": "clip0001",
        "path": "/m/talk.wav",
        "score": 0.9,
        "modality": "audio",
        "segment": 2,
        "start": 2.5,
        "end": 4.0,
        "text": "the cat sat",
        "spaces": {"a": 0.9},
    }
    item = {
        "id": "clip0001",
        "path": "/m/talk.wav",
        "name": "talk.wav",
        "modality": "audio",
        "size": 1,
        "mtime": 0,
        "metadata": {},
        "text": "",
        "ocr": [],
        "box_frame": None,
        "transcript": "and then the cat sat on the mat",
        "segments": [],
        "has_picture": False,
    }
    audio = _wav(6.0)
    page.route("**/api/search?*", lambda r: r.fulfill(json={"results": [hit]}))
    page.route("**/api/items/clip0001", lambda r: r.fulfill(json=item))
    page.route("**/api/items/clip0001/media*", lambda r: _ranged(r, audio))
    _search(page, url, "cat")
    page.locator(".hit").first.click()
    page.wait_for_selector("#detail audio")
    assert page.get_attribute("#detail audio", "src").endswith("/media#t=2.5,4")
    page.wait_for_function(
        "() => { const a = document.querySelector('#detail audio');"
        " return a.readyState >= 1 && a.currentTime >= 2.5; }"
    )
    assert "cat sat on the mat" in page.inner_text("#detail")


def test_keyboard_and_bookmarks(page: Any, site: Any) -> None:
    served, url = site
    page.goto(url + "/?q=bicycle+forest+square&type=image")
    page.wait_for_selector(".hit")
    assert page.input_value("#q") == "bicycle forest square"
    assert page.input_value("#type") == "image"
    ids = [h.get_attribute("data-id") for h in page.locator(".hit").all()]
    assert len(ids) >= 2 and all(i in served.ids.values() for i in ids)
    page.locator(".hit").first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.index") == "1"
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail:not([hidden])")
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail", state="hidden")
    page.fill("#q", "cat")
    page.press("#q", "Enter")
    page.wait_for_function("() => location.search.includes('q=cat')")
    page.go_back()
    page.wait_for_function("() => document.querySelector('#q').value === 'bicycle forest square'")
    page.wait_for_selector(".hit")


def test_phone_width(browser: Any, site: Any, tmp_path: Path) -> None:
    _, url = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(WAIT)
    _search(page, url, "bicycle forest square cat")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.locator(".hit").first.click()
    page.wait_for_selector("#detail .why")
    box = page.locator("#detail").bounding_box()
    assert box is not None and box["width"] <= 390
    page.screenshot(path=str(tmp_path / "phone.png"))
    context.close()


def test_api_docs_render_offline(page: Any, site: Any) -> None:
    """Swagger UI draws the API's operations from assets the server sends: every request
    that leaves for another host is refused, as it would be on a machine with no internet."""
    _, url = site
    foreign: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(url):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(url + "/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/search" in p for p in paths)
    assert not foreign
