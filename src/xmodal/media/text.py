"""Text documents and the text that belongs to an image (sidecar files)."""

from __future__ import annotations

import codecs
import json
import re

from xmodal.errors import DecodeError
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown"})
SIDECAR_EXTENSIONS = (".txt", ".json")

#: keys of a JSON sidecar whose values are words about the image
_SIDECAR_KEYS = ("caption", "title", "description", "alt", "annotation", "tags", "keywords", "text")

_PASSAGE_WORDS = 120
MAX_PASSAGES = 500


def decode_text(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> str:
    """Bytes of a text document to str: UTF-8 (with or without BOM), UTF-16 with BOM, else
    Latin-1; binary content is refused."""
    if not data.strip():
        raise DecodeError("empty file")
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    else:
        if b"\x00" in data[:8192]:
            raise DecodeError("binary content in a text file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    text = text[: limits.max_text_chars]
    if not text.strip():
        raise DecodeError("no text in file")
    return text


def passages(text: str, words_per_passage: int = _PASSAGE_WORDS) -> list[str]:
    """Split a document into passages of about ``words_per_passage`` words, on paragraph
    boundaries where possible, so that each fits a sentence encoder's window."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out: list[str] = []
    current: list[str] = []
    for para in paragraphs:
        words = para.split()
        while words:
            room = words_per_passage - len(current)
            if len(words) <= room:
                current.extend(words)
                words = []
            elif current:
                out.append(" ".join(current))
                current = []
            else:
                out.append(" ".join(words[:words_per_passage]))
                words = words[words_per_passage:]
        if len(current) >= words_per_passage // 2:
            out.append(" ".join(current))
            current = []
        if len(out) >= MAX_PASSAGES:
            break
    if current and len(out) < MAX_PASSAGES:
        out.append(" ".join(current))
    return out[:MAX_PASSAGES]


def sidecar_text(data: bytes, suffix: str) -> str:
    """Words in a sidecar: a .txt caption as is; from .json the caption-like keys."""
    if suffix == ".txt":
        try:
            return decode_text(data).strip()
        except DecodeError:
            return ""
    try:
        obj = json.loads(data.decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError):
        return ""
    if not isinstance(obj, dict):
        return ""
    parts: list[str] = []
    for key in _SIDECAR_KEYS:
        v = obj.get(key)
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, list):
            parts.append(", ".join(str(x) for x in v if isinstance(x, str | int | float)))
        elif isinstance(v, dict) and isinstance(v.get("description"), str):
            parts.append(v["description"])
    return ". ".join(p.strip() for p in parts if p and p.strip())
