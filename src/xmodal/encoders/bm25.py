"""BM25 keyword search: the lexical space. Text is analysed into terms here; the terms are
indexed and ranked by SQLite's FTS5 (Okapi BM25) inside the collection's own database.

Chinese, Japanese and Korean have no spaces between words, so runs of those characters are
indexed as overlapping character bigrams (plus the single character for a one-character
run), the standard way to make CJK text searchable without a dictionary; other scripts are
split into lower-cased words with diacritics folded by the FTS5 tokenizer.
"""

from __future__ import annotations

import re
import unicodedata

from xmodal.encoders.base import Encoder, EncoderSpec
from xmodal.encoders.registry import EncoderInfo, register
from xmodal.records import Modality

ANALYZER_VERSION = "1"

_CJK = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uac00-\ud7af"  # hangul
)
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)
_CJK_RUN = re.compile(rf"[{_CJK}]+")


def analyze(text: str) -> list[str]:
    """Terms of ``text``: lower-cased words, and bigrams of CJK runs."""
    out: list[str] = []
    for tok in _TOKEN.findall(unicodedata.normalize("NFKC", text)):
        if _CJK_RUN.fullmatch(tok):
            if len(tok) == 1:
                out.append(tok)
            else:
                out.extend(tok[i : i + 2] for i in range(len(tok) - 1))
        else:
            out.append(tok.lower())
    return out


class Bm25Encoder(Encoder):
    """A lexical space: it embeds nothing; it analyses text into terms for the FTS5 index."""

    lexical = True
    batch_size = 256

    def __init__(self) -> None:
        self._spec = EncoderSpec(
            name="bm25",
            weights=f"fts5-bm25 analyzer v{ANALYZER_VERSION}",
            dim=0,
            modalities=frozenset({Modality.TEXT}),
            preprocessing={"cjk": "bigrams", "case": "lower", "normalize": "NFKC"},
            languages=("any", "zh", "en"),
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def analyze(self, text: str) -> list[str]:
        return analyze(text)


@register(
    EncoderInfo(
        family="bm25",
        description="BM25 keyword search (SQLite FTS5); CJK by character bigrams",
        modalities=frozenset({Modality.TEXT}),
        dim=None,
        languages=("any", "zh", "en"),
        size="0 MB (no weights)",
        available=lambda: (True, "built in"),
        space="keyword",
    )
)
def _make(arg: str | None) -> Encoder:
    return Bm25Encoder()
