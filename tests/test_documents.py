"""Documents beyond plain text (PDF, DOCX, EPUB, HTML), SVG drawings and text files known by
their content, indexed through the real CLI; every file left out is reported by reason."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import pytest
from PIL import Image, ImageDraw, ImageFont

from awkward import xmodal, xmodal_json
from xmodal.errors import DecodeError
from xmodal.media.html import html_to_text
from xmodal.media.image import decode_image
from xmodal.media.limits import DecodeLimits
from xmodal.media.pdf import read_pdf
from xmodal.media.sniff import text_encoding
from xmodal.media.svg import decode_svg
from xmodal.media.walk import walk
from xmodal.records import IndexReport, Skipped, reason_group

# -- files made on the spot ---------------------------------------------------------------


def pdf_with_pages(pages: list[str], encrypt: bool = False) -> bytes:
    """A minimal PDF with one line of Helvetica text per page; ``encrypt`` adds a standard
    security handler whose user password is not empty."""
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    font = 3 + 2 * n
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
    ]
    for i, text in enumerate(pages):
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        stream = f"BT /F1 18 Tf 72 700 Td ({text}) Tj ET".encode()
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    extra = b""
    if encrypt:
        objs.append(
            b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32
            + b"> /P -4 >>"
        )  # fmt: skip
        file_id = b"<00112233445566778899aabbccddeeff>"
        extra = b" /Encrypt %d 0 R /ID [%s %s]" % (len(objs), file_id, file_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for k, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % k + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1,
        extra,
        xref,
    )
    return bytes(out)


def scanned_pdf() -> bytes:
    """A PDF whose only page is a picture (Pillow writes one image per page, no text)."""
    im = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(im).rectangle((50, 50, 550, 200), fill=(20, 20, 20))
    buf = io.BytesIO()
    im.save(buf, "PDF", resolution=72)
    return buf.getvalue()


def docx_file(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def epub_file(title: str, chapters: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        items = "".join(
            f'<item id="c{n}" href="text/ch{n}.xhtml" media-type="application/xhtml+xml"/>'
            for n in range(len(chapters))
        )
        # the spine lists the chapters in reverse file order: reading order is the spine's
        spine = "".join(f'<itemref idref="c{n}"/>' for n in reversed(range(len(chapters))))
        z.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{title}</dc:title></metadata><manifest>{items}</manifest>"
            f"<spine>{spine}</spine></package>",
        )
        for n, text in enumerate(chapters):
            z.writestr(
                f"OEBPS/text/ch{n}.xhtml",
                '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>c</title>'
                f"<style>p {{ color: red }}</style></head><body><p>{text}</p></body></html>",
            )
    return buf.getvalue()


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32" viewBox="0 0 64 32">'
    "<title>Pelican sketch</title><desc>a bird by the sea</desc>"
    '<rect x="4" y="4" width="56" height="24" fill="#3060c0"/></svg>'
)
HTML = (
    "<!doctype html><html><head><title>Harbour guide</title>"
    "<style>.hidden { content: 'stylesecret' }</style>"
    "<script>var s = 'scriptsecret';</script></head><body>"
    "<h1>Welcome</h1><p>Ask the lighthousekeeper about the tides.</p>"
    "<div hidden><p>hiddensecret</p></div></body></html>"
)
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


@dataclass
class Built:
    root: Path
    db: Path
    report: dict[str, Any]
    summary: str


def make_documents(root: Path) -> None:
    root.mkdir(parents=True)
    files: dict[str, bytes] = {
        "report.pdf": pdf_with_pages(["first page about zebrafish", "second page about quokka"]),
        "scanned-invoice.pdf": scanned_pdf(),
        "letter.docx": docx_file(["Dear reader,", "the marmalade is ready."]),
        "harbour.html": HTML.encode(),
        "book.epub": epub_file("Sea creatures", ["the narwhal chapter", "the axolotl chapter"]),
        "drawing.svg": SVG.encode(),
        "README": b"This package is about the capybara.\n\nSee COPYING.\n",
        "COPYING": "Licence: permission is granted, café included.\n".encode("latin-1"),
        "blob": bytes(range(256)) * 8,
        "data.xyz": b"\x00\x01\x02binary" * 40,
        "broken.pdf": pdf_with_pages(["truncated wombat"])[:60],
        "locked.pdf": pdf_with_pages(["secret platypus"], encrypt=True),
        "broken.docx": b"PK\x03\x04 not really a zip archive",
        "photo.heic": HEIC,
        "shelf/notes.txt": b"the shelf holds a pangolin\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    # a second way into a folder already indexed: a duplicate, not a loop
    os.symlink("shelf", root / "alias")
    os.symlink(".", root / "shelf" / "self")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("documents")
    root, db = base / "docs", base / "collection"
    make_documents(root)
    report = xmodal_json("index", root, "--db", db, "--model", "bm25", "--json", "-q")
    again = xmodal("index", root, "--db", db)
    assert again.returncode == 0, again.stderr
    return Built(root, db, report, again.stdout.strip().splitlines()[-1])


def found(b: Built, query: str) -> list[dict[str, Any]]:
    out = xmodal_json("search", query, "--db", b.db, "--json")
    return list(out["results"])


def stored(b: Built, rel: str) -> tuple[str, dict[str, Any]]:
    with sqlite3.connect(b.db / "xmodal.db") as conn:
        row = conn.execute(
            "SELECT modality, metadata FROM items WHERE path=?", (str(b.root / rel),)
        ).fetchone()
    assert row is not None, f"{rel} is not an item"
    return row[0], json.loads(row[1])


def reasons(b: Built) -> dict[str, str]:
    return {os.path.relpath(s["path"], b.root): s["reason"] for s in b.report["skipped"]}


# -- through the CLI ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "rel"),
    [
        ("zebrafish", "report.pdf"),
        ("quokka", "report.pdf"),
        ("marmalade", "letter.docx"),
        ("lighthousekeeper", "harbour.html"),
        ("harbour", "harbour.html"),
        ("narwhal", "book.epub"),
        ("axolotl", "book.epub"),
        ("pelican", "drawing.svg"),
        ("capybara", "README"),
        ("licence", "COPYING"),
        ("invoice", "scanned-invoice.pdf"),
    ],
)
def test_each_document_is_found_by_a_word_only_it_holds(built: Built, word: str, rel: str) -> None:
    hits = found(built, word)
    assert [os.path.relpath(h["path"], built.root) for h in hits] == [rel]


def test_a_pdf_hit_names_its_page(built: Built) -> None:
    modality, meta = stored(built, "report.pdf")
    assert modality == "text" and meta["format"] == "PDF" and meta["pages"] == 2
    for word, page in (("zebrafish", 1), ("quokka", 2)):
        (hit,) = found(built, word)
        assert meta["segment_pages"][hit["segment"]] == page


def test_a_scanned_pdf_is_a_picture_of_its_page(built: Built) -> None:
    modality, meta = stored(built, "scanned-invoice.pdf")
    assert modality == "image"
    assert meta["pages_without_text"] == [1] and meta["rendered_page"] == 1
    assert max(meta["width"], meta["height"]) > 0


def test_hidden_html_is_not_indexed_and_the_title_is_kept(built: Built) -> None:
    for word in ("scriptsecret", "stylesecret", "hiddensecret"):
        assert found(built, word) == []
    _, meta = stored(built, "harbour.html")
    assert meta["title"] == "Harbour guide"


def test_an_svg_is_an_image_with_its_title_attached(built: Built) -> None:
    modality, meta = stored(built, "drawing.svg")
    assert modality == "image" and meta["format"] == "SVG"
    assert (meta["width"], meta["height"]) == (64, 32)
    assert "Pelican sketch" in meta["embedded_text"]


def test_files_left_out_are_reported_with_reasons(built: Built) -> None:
    why = reasons(built)
    assert set(why) == {
        "blob",
        "data.xyz",
        "broken.pdf",
        "locked.pdf",
        "broken.docx",
        "photo.heic",
        "alias",
        "shelf/self",
    }
    assert why["blob"] == "unsupported type (no extension)"
    assert why["data.xyz"] == "unsupported type (.xyz)"
    assert "corrupt" in why["broken.pdf"] and "PDF" in why["broken.pdf"]
    assert why["locked.pdf"].startswith("encrypted PDF")
    assert "corrupt" in why["broken.docx"] and "DOCX" in why["broken.docx"]
    assert "pip install 'xmodal[heif]'" in why["photo.heic"]
    assert why["alias"] == f"duplicate link: already indexed through {built.root / 'shelf'}"
    assert "loop" in why["shelf/self"]


def test_skips_are_counted_by_reason_in_json_and_in_the_summary(built: Built) -> None:
    assert built.report["skipped_by_reason"] == {
        "corrupt document": 2,
        "unsupported type": 2,
        "duplicate link": 1,
        "encrypted": 1,
        "missing optional dependency": 1,
        "symbolic link loop": 1,
    }
    assert built.summary.endswith(
        "skipped 8: 2 corrupt document, 2 unsupported type (.xyz, no extension), "
        "1 duplicate link, 1 encrypted, 1 missing optional dependency, 1 symbolic link loop"
    )


# -- the decoders on their own --------------------------------------------------------------


def test_text_is_told_from_binary_by_content() -> None:
    assert text_encoding(b"plain ascii\n") == "utf-8"
    assert text_encoding("caf\u00e9 cr\u00e8me\n".encode()) == "utf-8"
    assert text_encoding("\ufeffhello".encode("utf-16")) == "utf-16"
    assert text_encoding(("x" * 100 + "\u00e9").encode()[:-1]) == "utf-8"  # cut mid-character
    assert text_encoding("Licence: café, naïve, déjà vu.\n".encode("latin-1")) is not None
    assert text_encoding(b"ELF\x00\x01\x02") is None
    assert text_encoding(bytes(range(128, 256)) * 4) is None
    assert text_encoding(b"\x1b\x02\x03\x04\x05\x06" * 50) is None


def test_html_text_skips_hidden_parts_and_keeps_paragraphs() -> None:
    page = html_to_text(HTML)
    assert page.title == "Harbour guide"
    assert page.text == "Welcome\n\nAsk the lighthousekeeper about the tides."


def test_pdf_page_cap_and_errors() -> None:
    pdf = read_pdf(pdf_with_pages(["one", "two", "three"]), DecodeLimits(max_pages=2))
    assert pdf.page_count == 3 and [n for n, _ in pdf.pages] == [1, 2]
    with pytest.raises(DecodeError, match="corrupt"):
        read_pdf(b"%PDF-1.4\nnothing else")
    with pytest.raises(DecodeError, match="no PDF header"):
        read_pdf(b"hello")


def test_svg_is_rendered_within_the_limits() -> None:
    huge = '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="50000"/>'
    im = decode_svg(huge.encode(), DecodeLimits(max_side=128))
    assert im.image.size == (128, 64) and (im.width, im.height) == (100000, 50000)
    with pytest.raises(DecodeError, match="SVG"):
        decode_svg(b"<html>not a drawing</html>")


def test_heic_without_its_plugin_names_the_fix() -> None:
    with pytest.raises(DecodeError, match=r"pip install 'xmodal\[heif\]'"):
        decode_image(HEIC)


def test_a_link_to_a_visited_folder_is_a_duplicate_and_a_link_up_is_a_loop(
    tmp_path: Path,
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.md").write_text("a")
    # sorted first, the link is still walked after the real folder
    (tmp_path / "0-link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "up").symlink_to(tmp_path)
    w = walk([tmp_path])
    assert [os.path.relpath(f.path, tmp_path) for f in w.files] == ["real/a.md"]
    why = {os.path.relpath(s.path, tmp_path): s.reason for s in w.skipped}
    assert why["0-link"] == f"duplicate link: already indexed through {tmp_path / 'real'}"
    assert why["real/up"].startswith("symbolic link loop")


def test_reason_groups_and_summary() -> None:
    assert reason_group("corrupt or truncated image: OSError: x") == "corrupt image"
    assert reason_group("image claims 9x9 pixels, over the limit of 1") == "too large"
    assert reason_group("file larger than 10 bytes") == "too large"
    assert reason_group("binary content in a text file") == "binary content"
    report = IndexReport(added=1)
    assert report.summary().endswith("skipped 0")
    report.skipped = [Skipped("a", "unsupported type (.zip)"), Skipped("b", "empty file")]
    assert report.summary().endswith("skipped 2: 1 empty, 1 unsupported type (.zip)")
    assert report.to_json()["skipped"] == [
        {"path": "a", "reason": "unsupported type (.zip)"},
        {"path": "b", "reason": "empty file"},
    ]


def test_a_scanned_page_is_read_by_ocr_when_the_collection_has_it(tmp_path: Path) -> None:
    page = Image.new("RGB", (800, 1000), "white")
    font = ImageFont.load_default(size=60)
    ImageDraw.Draw(page).text((60, 250), "Total payable", fill="black", font=font)
    (tmp_path / "docs").mkdir()
    page.save(tmp_path / "docs" / "scan.pdf", resolution=100)
    db = tmp_path / "collection"
    report = xmodal_json(
        "index", tmp_path / "docs", "--db", db, "--model", "bm25", "--model", "ocr", "--json"
    )
    assert report["added"] == 1 and report["skipped"] == []
    hits = xmodal_json("search", "payable", "--db", db, "--json")["results"]
    assert [os.path.basename(h["path"]) for h in hits] == ["scan.pdf"]
