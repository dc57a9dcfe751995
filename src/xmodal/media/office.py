"""Word documents (DOCX): the text of the body's paragraphs and tables, in document order."""

from __future__ import annotations

import io
from dataclasses import dataclass

from xmodal.errors import DecodeError
from xmodal.media.archive import open_archive
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits


@dataclass(frozen=True, slots=True)
class DocxText:
    title: str
    text: str


def _table_text(table: object) -> list[str]:
    rows: list[str] = []
    for row in getattr(table, "rows", ()):
        cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
        if cells:
            rows.append(" | ".join(cells))
    return rows


def read_docx(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DocxText:
    """Paragraphs (one per block, tables a row per line) and the title of a DOCX file."""
    import docx  # deferred: lxml is only loaded when a folder has Word files
    from docx.table import Table

    open_archive(data, "DOCX", limits).close()
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # python-docx raises KeyError, ValueError, lxml errors, its own
        raise DecodeError(f"corrupt DOCX: {type(e).__name__}: {e}") from None
    blocks: list[str] = []
    size = 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            parts = _table_text(block)
        else:
            parts = [block.text.strip()] if block.text.strip() else []
        blocks.extend(parts)
        size += sum(len(p) for p in parts)
        if size >= limits.max_text_chars:
            break
    title = (document.core_properties.title or "").strip()
    text = "\n\n".join(blocks)[: limits.max_text_chars]
    if not text.strip():
        raise DecodeError("no text in file")
    return DocxText(title, text)
