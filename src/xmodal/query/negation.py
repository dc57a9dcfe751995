"""Negation in plain words: "a cat without glasses", "X but not Y", "不要Y的X", "没有Y的X".

A query in words is split at a negation cue into what is wanted and what is not; the wanted
part is parsed with the mixed syntax (``parse.py``) and each unwanted part becomes a text term
of negative weight, exactly what ``X - "Y"`` means there. Every space then acts on it: a
vector space subtracts the unwanted concept from the query vector, a keyword space drops
passages that contain its words, and :func:`demote` moves hits whose words mention it below
those that do not (pixels alone cannot be read for a mention).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from xmodal.query.parse import Query, Term, parse_query
from xmodal.records import SearchHit


@cache
def stop_words() -> frozenset[str]:
    """English words too common to count as a mention; scikit-learn's list, loaded on first
    use because importing it costs every command a second."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


#: weight of an unwanted concept: a full -1 often overshoots and drags in its opposite
NEGATIVE_WEIGHT = 0.5

_EN_CUES = (
    "but without",
    "without",
    "but not",
    "and not",
    "except for",
    "except",
    "excluding",
    "that is not",
    "that are not",
    "which is not",
    "which are not",
    "that isn't",
    "that aren't",
    "with no",
    "and no",
    "but no",
    "not",
)
_EN_SPLIT = re.compile(
    r"\s+(?:" + "|".join(re.escape(c).replace(r"\ ", r"\s+") for c in _EN_CUES) + r")\s+",
    re.IGNORECASE,
)
_ZH_CUES = "不要|没有|不带|不含|不是|除了|无"
#: 不要Y的X: the unwanted part first, the wanted one after 的
_ZH_PREFIX = re.compile(rf"^\s*(?:{_ZH_CUES})(.+?)的(.+)$")
#: X但不要Y, X，没有Y, X不含Y
_ZH_SUFFIX = re.compile(rf"^(.+?)[，,、\s]*(?:但是|但|而)?(?:{_ZH_CUES})(.+)$")
_ARTICLES = re.compile(r"^(?:a|an|the|any)\s+", re.IGNORECASE)
_LIST_SPLIT = re.compile(r"\s*(?:,|\bor\b|\bnor\b|\band\b|或|和|、)\s*", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"\w+", re.UNICODE)
#: the syntax of ``parse.py`` is in use: leave such a query to it
_SYNTAX = re.compile(r"[\"']|(?:^|\s)(?:img|image):|\s[-+]\s")


@dataclass(frozen=True, slots=True)
class Negation:
    """A query in words split into what is wanted and what is not."""

    positive: str
    negatives: tuple[str, ...]


def _unwanted(text: str) -> list[str]:
    parts = [_ARTICLES.sub("", p.strip(" .,;:!?，。")) for p in _LIST_SPLIT.split(text)]
    return [p for p in parts if p]


def split_negation(text: str) -> Negation | None:
    """The wanted and unwanted parts of ``text``; None when it has no negation cue (or uses
    the mixed syntax, whose ``-`` already says what is unwanted)."""
    if _SYNTAX.search(text):
        return None
    if _CJK.search(text):
        m = _ZH_PREFIX.match(text)
        if m and m.group(2).strip():
            return Negation(m.group(2).strip(), tuple(_unwanted(m.group(1))))
        m = _ZH_SUFFIX.match(text)
        if m and m.group(1).strip() and m.group(2).strip():
            return Negation(m.group(1).strip(" ，,"), tuple(_unwanted(m.group(2))))
    parts = _EN_SPLIT.split(f" {text.strip()} ")
    positive = parts[0].strip()
    negatives = [n for p in parts[1:] for n in _unwanted(p)]
    if len(parts) < 2 or not positive or not negatives:
        return None
    return Negation(positive, tuple(negatives))


def parse_natural(text: str) -> Query:
    """``text`` as a query: a negation in words becomes negative terms, anything else is
    parsed with the mixed syntax."""
    neg = split_negation(text)
    if neg is None:
        return parse_query(text)
    wanted = parse_query(neg.positive)
    unwanted = tuple(Term("text", n, -NEGATIVE_WEIGHT) for n in neg.negatives)
    return Query(wanted.terms + unwanted)


def negative_texts(query: Query) -> list[str]:
    return [t.value for t in query.texts() if t.weight < 0]


def _content_words(text: str) -> set[str]:
    words = {w.lower() for w in _WORD.findall(text)} - stop_words()
    return {_singular(w) for w in words}


def _singular(word: str) -> str:
    """A plural is the same concept: "glasses" is mentioned by "glass", "shapes" by "shape"."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith("ss"):
        return word
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    return word[:-1]


def mentions(text: str, unwanted: str) -> bool:
    """Whether ``text`` names the concept ``unwanted`` (any of its content words; Chinese by
    substring, since it has no spaces between words)."""
    if _CJK.search(unwanted):
        return unwanted in text
    wanted_words = _content_words(unwanted)
    return bool(wanted_words) and bool(wanted_words & _content_words(text))


def demote(hits: Sequence[SearchHit], unwanted: Sequence[str]) -> list[SearchHit]:
    """``hits`` with those whose text mentions an unwanted concept moved below the others,
    each group keeping its order."""
    if not unwanted:
        return list(hits)
    bad = [any(mentions(h.text, u) for u in unwanted) for h in hits]
    return [h for h, b in zip(hits, bad, strict=True) if not b] + [
        h for h, b in zip(hits, bad, strict=True) if b
    ]
