"""PDF documents through PDFium: the text layer of each page, and a rendering of pages that
have none (scans), for the image encoders and OCR to read."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image

from xmodal.errors import DecodeError
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits

if TYPE_CHECKING:
    import pypdfium2 as pdfium

#: PDFium keeps global state and is not thread-safe; decoding threads take turns with it
_PDFIUM = threading.Lock()


@dataclass(slots=True)
class PdfText:
    page_count: int
    title: str = ""
    #: (page number from 1, text) of the pages read that have a text layer
    pages: list[tuple[int, str]] = field(default_factory=list)
    #: page numbers (from 1) of the pages read that have no text layer
    without_text: list[int] = field(default_factory=list)
    #: the first page without text, rendered, when the document has no text layer at all
    scan: Image.Image | None = None


@dataclass(frozen=True, slots=True)
class PdfScans:
    """The pages of a PDF that have no text layer, rendered only when asked: OCR takes them a
    few at a time, and a collection without OCR never pays for the rendering."""

    data: bytes
    #: page numbers from 1
    pages: tuple[int, ...]
    limits: DecodeLimits = DEFAULT_LIMITS

    def render(self, pages: Sequence[int]) -> list[Image.Image]:
        """The given pages (numbers from 1) as RGB pixels, in that order."""
        import pypdfium2 as pdfium

        with _PDFIUM:
            pdf = _open(self.data)
            try:
                return [_render_number(pdf, n, self.limits) for n in pages]
            except pdfium.PdfiumError as e:
                raise DecodeError(f"corrupt or truncated PDF: {e}") from None
            finally:
                pdf.close()


def _render_number(pdf: pdfium.PdfDocument, number: int, limits: DecodeLimits) -> Image.Image:
    page = pdf[number - 1]
    try:
        return render_page(page, limits)
    finally:
        page.close()


def _open(data: bytes) -> pdfium.PdfDocument:
    import pypdfium2 as pdfium  # deferred: loaded only when a folder has PDFs

    if not data:
        raise DecodeError("empty file")
    if b"%PDF-" not in data[:1024]:
        raise DecodeError("corrupt PDF: no PDF header")
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise DecodeError("encrypted PDF: a password is needed to open it") from None
        raise DecodeError(f"corrupt or truncated PDF: {e}") from None


def render_page(page: pdfium.PdfPage, limits: DecodeLimits) -> Image.Image:
    """A page as RGB pixels, its longer side ``limits.max_side``, within the pixel cap."""
    width, height = page.get_size()
    if width <= 0 or height <= 0:
        raise DecodeError("PDF page has no area")
    scale = limits.max_side / max(width, height)
    if width * height * scale * scale > limits.max_pixels:
        scale = (limits.max_pixels / (width * height)) ** 0.5
    bitmap = page.render(scale=scale)
    try:
        return bitmap.to_pil().convert("RGB")
    finally:
        bitmap.close()


def _page_text(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    try:
        text = str(textpage.get_text_bounded())
    finally:
        textpage.close()
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_pdf(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> PdfText:
    """Text per page of a PDF (at most ``limits.max_pages`` pages and ``max_text_chars``
    characters); encrypted, corrupt and truncated files raise ``DecodeError``."""
    if len(data) > limits.max_file_bytes:
        raise DecodeError(f"file larger than {limits.max_file_bytes} bytes")
    import pypdfium2 as pdfium

    with _PDFIUM:
        pdf = _open(data)
        try:
            return _read_pages(pdf, limits)
        except pdfium.PdfiumError as e:
            raise DecodeError(f"corrupt or truncated PDF: {e}") from None
        finally:
            pdf.close()


def _read_pages(pdf: pdfium.PdfDocument, limits: DecodeLimits) -> PdfText:
    count = len(pdf)
    if count == 0:
        raise DecodeError("corrupt PDF: no pages")
    meta = pdf.get_metadata_dict()
    out = PdfText(count, str(meta.get("Title") or "").strip())
    size = 0
    for n in range(min(count, limits.max_pages)):
        page = pdf[n]
        try:
            text = _page_text(page)
            if text.strip():
                out.pages.append((n + 1, text))
                size += len(text)
            else:
                out.without_text.append(n + 1)
        finally:
            page.close()
        if size >= limits.max_text_chars:
            break
    if not out.pages and out.without_text:
        out.scan = _render_number(pdf, out.without_text[0], limits)
    return out
