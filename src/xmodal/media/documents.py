"""Documents of every supported kind read into one shape: a title and sections of text, each
section knowing the page it came from where the format has pages."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from xmodal.media.epub import read_epub
from xmodal.media.html import read_html
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.media.office import read_docx
from xmodal.media.pdf import PdfScans, read_pdf
from xmodal.media.sniff import decode_sniffed
from xmodal.media.text import TEXT_EXTENSIONS, decode_text

HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
DOCUMENT_EXTENSIONS = frozenset({".pdf", ".docx", ".epub"}) | HTML_EXTENSIONS


@dataclass(frozen=True, slots=True)
class Section:
    text: str
    #: page number from 1, for formats that have pages
    page: int | None = None


@dataclass(slots=True)
class Document:
    title: str
    sections: list[Section]
    metadata: dict[str, Any] = field(default_factory=dict)
    #: a rendering of the first page, for a document that has no text layer at all (a scan)
    scan: Image.Image | None = None
    #: the pages without a text layer, for OCR to read
    scans: PdfScans | None = None


def _pdf(data: bytes, limits: DecodeLimits) -> Document:
    pdf = read_pdf(data, limits)
    meta: dict[str, Any] = {"format": "PDF", "pages": pdf.page_count}
    if pdf.without_text:
        meta["pages_without_text"] = pdf.without_text
    read = len(pdf.pages) + len(pdf.without_text)
    if read < pdf.page_count:
        meta["pages_read"] = read
    sections = [Section(text, page) for page, text in pdf.pages]
    scans = PdfScans(data, tuple(pdf.without_text), limits) if pdf.without_text else None
    return Document(pdf.title, sections, meta, pdf.scan, scans)


def _titled(title: str, text: str) -> list[Section]:
    """The text with its title as the first paragraph, unless the text already opens with it."""
    if title and title.lower() not in text[: 2 * len(title) + 200].lower():
        text = f"{title}\n\n{text}"
    return [Section(text)] if text.strip() else []


def read_document(path: str, data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> Document:
    """The title and text of the document ``data`` read from ``path``, by the kind its
    extension names; a file of no known kind is read as text found by its content."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".pdf":
        return _pdf(data, limits)
    if ext == ".docx":
        docx = read_docx(data, limits)
        return Document(docx.title, _titled(docx.title, docx.text), {"format": "DOCX"})
    if ext == ".epub":
        book = read_epub(data, limits)
        sections = _titled(book.title, book.chapters[0]) + [Section(c) for c in book.chapters[1:]]
        return Document(book.title, sections, {"format": "EPUB", "chapters": len(book.chapters)})
    if ext in HTML_EXTENSIONS:
        page = read_html(data, limits)
        return Document(page.title, _titled(page.title, page.text), {"format": "HTML"})
    text = decode_text(data, limits) if ext in TEXT_EXTENSIONS else decode_sniffed(data, limits)
    return Document("", [Section(text)])
