"""PDF pages in search hits, and scanned pages read by OCR into passages of their page."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from awkward import xmodal, xmodal_json
from test_documents import pdf_with_pages
from xmodal.encoders.ocr import OCR_INFO
from xmodal.records import Modality, SearchHit

needs_ocr = pytest.mark.skipif(
    not OCR_INFO.available()[0], reason=f"OCR unavailable: {OCR_INFO.available()[1]}"
)


def page_picture(words: str) -> Image.Image:
    """A page-sized picture with one line of large dark words on white, as a scanner makes."""
    im = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(im).text((60, 300), words, fill=(15, 15, 25), font=ImageFont.load_default(60))
    return im


def scanned_pages_pdf(lines: list[str]) -> bytes:
    """A PDF whose pages are pictures only (no text layer), one line of words on each."""
    first, *rest = [page_picture(words) for words in lines]
    buf = io.BytesIO()
    first.save(buf, "PDF", resolution=72, save_all=True, append_images=rest)
    return buf.getvalue()


def mixed_pdf(text_page: str, scanned_words: str) -> bytes:
    """Page 1 has a text layer, page 2 is a picture of words."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_with_pages([text_page]))
    pdf.import_pages(pdfium.PdfDocument(scanned_pages_pdf([scanned_words])))
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def search(db: Path, query: str) -> list[dict[str, Any]]:
    return list(xmodal_json("search", query, "--db", db, "--json")["results"])


def metadata(db: Path, path: Path) -> dict[str, Any]:
    with sqlite3.connect(db / "xmodal.db") as conn:
        row = conn.execute("SELECT metadata FROM items WHERE path=?", (str(path),)).fetchone()
    assert row is not None, f"{path} is not an item"
    return dict(json.loads(row[0]))


def test_a_hit_names_its_page(tmp_path: Path) -> None:
    root, db = tmp_path / "docs", tmp_path / "db"
    root.mkdir()
    (root / "guide.pdf").write_bytes(pdf_with_pages(["all about the wombat", "then the quoll"]))
    (root / "notes.txt").write_text("the wombat has no pages here\n")
    xmodal_json("index", root, "--db", db, "--model", "bm25", "--json", "-q")
    by_path = {Path(h["path"]).name: h for h in search(db, "quoll")}
    assert by_path["guide.pdf"]["page"] == 2
    wombat = {Path(h["path"]).name: h for h in search(db, "wombat")}
    assert wombat["guide.pdf"]["page"] == 1
    assert "page" not in wombat["notes.txt"]  # no pages, no key
    shown = xmodal("search", "quoll", "--db", db)
    assert shown.returncode == 0, shown.stderr
    line = next(s for s in shown.stdout.splitlines() if "guide.pdf" in s)
    assert line.endswith("guide.pdf page 2"), shown.stdout


def test_page_is_in_json_only_when_known() -> None:
    hit = SearchHit("i", "/a.pdf", 1.0, Modality.TEXT, segment=3, page=4)
    assert hit.to_json()["page"] == 4
    assert "page" not in SearchHit("i", "/a.txt", 1.0, Modality.TEXT).to_json()


@needs_ocr
def test_every_scanned_page_is_read(tmp_path: Path) -> None:
    root, db = tmp_path / "docs", tmp_path / "db"
    root.mkdir()
    scan, mixed = root / "scan.pdf", root / "mixed.pdf"
    scan.write_bytes(scanned_pages_pdf(["HARBOUR", "GOATS"]))
    mixed.write_bytes(mixed_pdf("typed words about penguins", "CURTAINS"))
    args = ("index", root, "--db", db, "--model", "ocr", "--model", "bm25", "--json", "-q")
    xmodal_json(*args)
    for query, path, page in (
        ("harbour", scan, 1),
        ("goats", scan, 2),
        ("penguins", mixed, 1),
        ("curtains", mixed, 2),
    ):
        hits = search(db, query)
        assert [(h["path"], h.get("page")) for h in hits] == [(str(path), page)], (query, hits)
    assert metadata(db, scan)["ocr_pages"] == [2]  # page 1 is the picture, read as one
    assert metadata(db, mixed)["ocr_pages"] == [2]


@needs_ocr
def test_scanned_pages_are_read_once(tmp_path: Path) -> None:
    from xmodal import Collection

    root = tmp_path / "docs"
    root.mkdir()
    (root / "scan.pdf").write_bytes(scanned_pages_pdf(["HARBOUR", "GOATS"]))
    col = Collection.open(tmp_path / "db")
    col.index([root], models=["ocr", "bm25"])
    with sqlite3.connect(tmp_path / "db" / "xmodal.db") as conn:
        names = sorted(r[0] for r in conn.execute("SELECT extractor FROM extracted_text"))
    assert names == ["ocr", "ocr#page2"]
    # another space over the same files reads the pages from what is kept, not the pixels
    from xmodal.encoders.ocr import RapidOcrExtractor

    calls: list[int] = []
    real = RapidOcrExtractor.extract

    def counted(self: RapidOcrExtractor, images: list[Image.Image]) -> Any:
        calls.append(len(images))
        return real(self, images)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RapidOcrExtractor, "extract", counted)
        col.index([root], models=["classic"])
    assert calls == []
    assert [Path(h.path).name for h in col.search("goats", model="bm25")] == ["scan.pdf"]
