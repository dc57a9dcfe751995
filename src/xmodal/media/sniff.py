"""Telling text from binary by content, for files whose name does not say what they are
(``README``, ``COPYING``, ``Makefile``, ``notes.log``)."""

from __future__ import annotations

import codecs
import unicodedata

from charset_normalizer import from_bytes

from xmodal.errors import DecodeError
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.media.text import decode_text

#: how much of a file is looked at to decide
HEAD_BYTES = 8192
#: share of characters in the head that may be control characters in a text file
_MAX_CONTROL_SHARE = 0.02
_WHITESPACE = frozenset("\t\n\r\f\v")
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _mostly_printable(text: str) -> bool:
    if not text:
        return False
    controls = sum(
        1 for c in text if c not in _WHITESPACE and unicodedata.category(c) in ("Cc", "Cs", "Co")
    )
    return controls <= _MAX_CONTROL_SHARE * len(text)


def _utf8_head(head: bytes) -> str | None:
    """``head`` as UTF-8, allowing a character cut at the end of the sample."""
    for cut in range(4):
        try:
            return head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError as e:
            if e.start < len(head) - 4:
                return None
    return None


def text_encoding(head: bytes) -> str | None:
    """The encoding ``head`` (the first bytes of a file) is text in, or None for binary."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig" if _mostly_printable(_utf8_head(head[3:]) or "") else None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        sample = head[: len(head) - len(head) % 2].decode("utf-16", errors="replace")
        return "utf-16" if _mostly_printable(sample) else None
    if b"\x00" in head:
        return None
    as_utf8 = _utf8_head(head)
    if as_utf8 is not None:
        return "utf-8" if _mostly_printable(as_utf8) else None
    best = from_bytes(head).best()
    if best is None or best.encoding is None:
        return None
    return best.encoding if _mostly_printable(str(best)) else None


def decode_sniffed(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> str:
    """A file found to be text by its content, decoded in the encoding its head shows."""
    encoding = text_encoding(data[:HEAD_BYTES])
    if encoding is None:
        raise DecodeError("binary content in a file without a known type")
    if encoding in ("utf-8", "utf-8-sig", "utf-16") or data.startswith(_BOMS):
        return decode_text(data, limits)
    text = data[: limits.max_text_chars * 4].decode(encoding, errors="replace")
    text = text[: limits.max_text_chars]
    if not text.strip():
        raise DecodeError("no text in file")
    return text
