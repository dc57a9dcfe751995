"""Mixed, weighted queries: words, quoted phrases and images combined with + and -.

Syntax (documented in the README):

    red bicycle                        one text term
    "beach" + 0.5*img:sunset.jpg       a text term plus an image at half weight
    beach - people                     subtract a concept (operators need spaces around
                                       them when the terms are bare words: t-shirt stays one word)
    img:"my photo.jpg" - "blurry"      quote paths and phrases that contain spaces or symbols
    aud:bark.wav + "dog"               a recording (sounds like this; its speech as words)
    vid:clip.mp4                       a video clip (videos with shots like its shots)

A term is ``[NUMBER*] ATOM`` where ATOM is a quoted phrase ("..." or '...', backslash escapes
the quote and itself), ``img:PATH`` / ``image:PATH``, ``aud:PATH`` / ``audio:PATH``,
``vid:PATH`` / ``video:PATH``, or a run
of bare words. The query vector
in each space is the weighted sum of the embeddings of the terms that space can embed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from xmodal.errors import QuerySyntaxError

TermKind = Literal["text", "image", "audio", "video"]

_NUMBER = re.compile(r"\s*((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*\s*")
_IMAGE_PREFIX = re.compile(r"(?:img|image):", re.IGNORECASE)
_AUDIO_PREFIX = re.compile(r"(?:aud|audio):", re.IGNORECASE)
_VIDEO_PREFIX = re.compile(r"(?:vid|video):", re.IGNORECASE)
#: where a media term starts, and the kind of term it makes
_MEDIA_PREFIXES: tuple[tuple[re.Pattern[str], TermKind], ...] = (
    (_IMAGE_PREFIX, "image"),
    (_AUDIO_PREFIX, "audio"),
    (_VIDEO_PREFIX, "video"),
)
#: how each media term is written
_PREFIX: dict[TermKind, str] = {"text": "", "image": "img:", "audio": "aud:", "video": "vid:"}
#: a bare word that starts like a number and has a ``*`` in it meant to be a weight
_BAD_WEIGHT = re.compile(r"[-+]?[\d.][^*\s]*\*")


@dataclass(frozen=True, slots=True)
class Term:
    kind: TermKind
    value: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...]

    def texts(self) -> list[Term]:
        return [t for t in self.terms if t.kind == "text"]

    def images(self) -> list[Term]:
        return [t for t in self.terms if t.kind == "image"]

    def audios(self) -> list[Term]:
        return [t for t in self.terms if t.kind == "audio"]

    def videos(self) -> list[Term]:
        return [t for t in self.terms if t.kind == "video"]

    def media(self) -> list[Term]:
        """Image, audio and video terms: files that are decoded before they are embedded."""
        return [t for t in self.terms if t.kind != "text"]

    def render(self) -> str:
        """Text that parses back to this query."""
        out: list[str] = []
        for n, t in enumerate(self.terms):
            sign = "-" if t.weight < 0 else "+"
            w = abs(t.weight)
            weight = "" if w == 1.0 else f"{w!r}*"
            atom = _PREFIX[t.kind] + _quote(t.value)
            if n == 0:
                out.append(("-" if sign == "-" else "") + weight + atom)
            else:
                out.append(f"{sign} {weight}{atom}")
        return " ".join(out)


def _media_prefix(s: str, at: int) -> tuple[TermKind, int] | None:
    """The kind of media term starting at ``at`` and where its path begins, if one does."""
    for pattern, kind in _MEDIA_PREFIXES:
        m = pattern.match(s, at)
        if m:
            return kind, m.end()
    return None


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def error(self, msg: str) -> QuerySyntaxError:
        return QuerySyntaxError(f"bad query at character {self.i + 1}: {msg}")

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def at_end(self) -> bool:
        self.skip_ws()
        return self.i >= len(self.s)

    def quoted(self) -> str:
        q = self.s[self.i]
        self.i += 1
        buf: list[str] = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\" and self.i + 1 < len(self.s) and self.s[self.i + 1] in (q, "\\"):
                buf.append(self.s[self.i + 1])
                self.i += 2
                continue
            if c == q:
                self.i += 1
                return "".join(buf)
            buf.append(c)
            self.i += 1
        raise self.error(f"unclosed {q}")

    def word(self) -> str:
        start = self.i
        while self.i < len(self.s) and not self.s[self.i].isspace():
            self.i += 1
        return self.s[start : self.i]

    def bare_word(self) -> str:
        """A word of a text term. A double quote inside one is a phrase left open or closed
        without opening (apostrophes are part of words: don't), and a number before a ``*``
        is a weight that failed to parse; both are refused rather than searched for."""
        start = self.i
        w = self.word()
        if _BAD_WEIGHT.match(w):
            self.i = start
            raise self.error(f"bad weight in {w!r}: write a number, then *, as in 2*\"cat\"")
        if (q := w.find('"')) >= 0:
            self.i = start + q
            raise self.error('unbalanced " (put quotes around a whole phrase: "red car")')
        return w

    def operator_ahead(self) -> bool:
        """Is the next token a + or - that starts a new term?"""
        j = self.i
        while j < len(self.s) and self.s[j].isspace():
            j += 1
        if j >= len(self.s) or self.s[j] not in "+-":
            return False
        nxt = self.s[j + 1 : j + 2]
        rest = self.s[j + 1 :]
        return (
            nxt == ""
            or nxt.isspace()
            or nxt in "\"'"
            or _media_prefix(rest, 0) is not None
            or bool(_NUMBER.match(rest))
        )

    def atom(self) -> tuple[TermKind, str]:
        self.skip_ws()
        if self.i >= len(self.s):
            raise self.error("expected a term")
        c = self.s[self.i]
        if c in "\"'":
            return "text", self.quoted()
        media = _media_prefix(self.s, self.i)
        if media is not None:
            kind, end = media
            self.i = end
            if self.i < len(self.s) and self.s[self.i] in "\"'":
                path = self.quoted()
            else:
                path = self.word()
            if not path:
                raise self.error(f"{_PREFIX[kind]} needs a path")
            return kind, path
        words: list[str] = []
        while not self.at_end() and not self.operator_ahead():
            if self.s[self.i] in "\"'" or _media_prefix(self.s, self.i) is not None:
                raise self.error("put + or - between terms")
            words.append(self.bare_word())
        return "text", " ".join(words)

    def term(self, sign: float) -> Term:
        self.skip_ws()
        weight = 1.0
        m = _NUMBER.match(self.s, self.i)
        if m:
            weight = float(m.group(1))
            self.i = m.end()
            if not math.isfinite(weight):
                raise self.error("weight must be a finite number")
        kind, value = self.atom()
        if kind == "text" and not value.strip():
            raise self.error("empty text term")
        return Term(kind, value, sign * weight)

    def parse(self) -> Query:
        if self.at_end():
            raise QuerySyntaxError("empty query")
        sign = 1.0
        if self.s[self.i] in "+-" and self.operator_ahead():
            sign = -1.0 if self.s[self.i] == "-" else 1.0
            self.i += 1
        terms = [self.term(sign)]
        while not self.at_end():
            if not self.operator_ahead():
                raise self.error("put + or - between terms")
            op = self.s[self.i]
            self.i += 1
            terms.append(self.term(-1.0 if op == "-" else 1.0))
        if not any(t.weight > 0 for t in terms):
            raise QuerySyntaxError("a query needs at least one term with a positive weight")
        return Query(tuple(terms))


def parse_query(text: str) -> Query:
    return _Parser(text).parse()
