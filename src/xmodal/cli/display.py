"""Text for a terminal measured in display columns: CJK and emoji take two, marks none."""

from __future__ import annotations

from wcwidth import wcwidth

ELLIPSIS = "…"


def char_width(ch: str) -> int:
    # wcwidth says -1 for control characters; they print as nothing useful, count them as 0
    return max(wcwidth(ch), 0)


def text_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


def cut(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` columns, else its longest head that fits with an
    ellipsis after it."""
    if text_width(text) <= width:
        return text
    room = width - text_width(ELLIPSIS)
    used = 0
    for end, ch in enumerate(text):
        used += char_width(ch)
        if used > room:
            return text[:end] + ELLIPSIS
    return text


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` columns (unchanged if already wider)."""
    return text + " " * max(width - text_width(text), 0)


def wrap(text: str, width: int) -> list[str]:
    """Words of ``text`` in lines of at most ``width`` columns; a word wider than a line is
    cut with an ellipsis."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if text_width(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = cut(word, width)
    if line:
        lines.append(line)
    return lines
