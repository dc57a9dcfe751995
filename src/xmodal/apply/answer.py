"""Cross-modal question answering: a question (and optionally a picture) answered with a
sentence from the collection's text, with the evidence it came from.

The question is searched in every space (documents' passages, the words attached to and read
from pictures, transcripts), each top passage is split into sentences (pysbd), and every
sentence is scored against the question by the collection's text encoder (cosine) and by the
share of the question's content words it contains. The best sentence answers, unless its
evidence is weak: below the collection's calibrated relevance cutoff when it has one
(``xmodal calibrate``), else below a fixed floor on the sentence score; then the answer is
None ("not found") and the evidence is still shown.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pysbd

from xmodal.apply.settings import DEFAULT_MIN_RELEVANCE, PASSAGES
from xmodal.collection import Collection
from xmodal.encoders.base import Encoder
from xmodal.errors import UsageError
from xmodal.eval.calibration import load_calibration, relevance
from xmodal.query.negation import stop_words
from xmodal.query.parse import Query, Term
from xmodal.records import Modality, SearchHit
from xmodal.spaces.vector import VectorSpace

#: evidence shown (passages searched: ``settings.PASSAGES``)
EVIDENCE = 3
#: weights of the sentence score: meaning (cosine) and the question's words found in it
COSINE_WEIGHT = 0.6
OVERLAP_WEIGHT = 0.4
#: without a calibration, the sentence score an answer needs
SCORE_FLOOR = 0.3
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Evidence:
    id: str
    path: str
    modality: Modality
    text: str
    score: float
    sentence: str = ""
    start: float | None = None
    end: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "path": self.path,
            "modality": str(self.modality),
            "text": self.text,
            "score": self.score,
        }
        if self.sentence:
            out["sentence"] = self.sentence
        if self.start is not None and self.end is not None:
            out["start"], out["end"] = self.start, self.end
        return out


@dataclass(slots=True)
class Answer:
    answer: str | None
    evidence: list[Evidence] = field(default_factory=list)
    #: the answer's sentence score, and its calibrated relevance when there is a calibration
    score: float | None = None
    relevance: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "evidence": [e.to_json() for e in self.evidence],
            "score": self.score,
            "relevance": self.relevance,
        }


@lru_cache(maxsize=4)
def _segmenter(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False)


def sentences(text: str) -> list[str]:
    """``text`` split into sentences (Chinese or English rules by its script)."""
    lang = "zh" if _CJK.search(text) else "en"
    return [s.strip() for s in _segmenter(lang).segment(text) if s.strip()]


def content_words(text: str) -> set[str]:
    """Lower-cased words minus English stop words; Chinese by character (it has no spaces)."""
    words = {w.lower() for w in _WORD.findall(text)} - stop_words()
    out: set[str] = set()
    for w in words:
        out.update(w) if _CJK.search(w) else out.add(w)
    return out


def overlap(question: str, sentence: str) -> float:
    """The share of the question's content words the sentence contains."""
    q = content_words(question)
    return len(q & content_words(sentence)) / len(q) if q else 0.0


def text_encoder(col: Collection) -> Encoder | None:
    """The encoder of the collection's best space for reading text: a text-only vector
    space (sentence embeddings) before one that also embeds pictures."""
    records = [
        r for r in col.store.spaces().values() if Modality.TEXT in r.spec.modalities
    ]
    records.sort(key=lambda r: (Modality.IMAGE in r.spec.modalities, r.name))
    for r in records:
        space = col.searcher.space(r)
        if isinstance(space, VectorSpace):
            return space.encoder
    return None


def _passage(col: Collection, hit: SearchHit) -> str:
    item = col.get(hit.id)
    if item is None:
        return ""
    if item.modality is Modality.TEXT or hit.start is not None:
        segs = col.store.segments(item.id)
        if 0 <= hit.segment < len(segs) and segs[hit.segment].text.strip():
            return segs[hit.segment].text
    return item.text


def score_sentences(encoder: Encoder | None, question: str, candidates: list[str]) -> np.ndarray:
    """Each candidate's score against ``question``; a candidate is a sentence read with the
    sentence that opens its passage, which says what a later "it" is about."""
    words = np.array([overlap(question, s) for s in candidates])
    if encoder is None:
        return words
    q = encoder.encode_texts([question], role="query")[0]
    vecs = encoder.encode_texts(candidates, role="passage")
    return COSINE_WEIGHT * (vecs @ q) + OVERLAP_WEIGHT * words


def ask(
    col: Collection,
    question: str,
    *,
    image: str | os.PathLike[str] | None = None,
    passages: int = PASSAGES,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
) -> Answer:
    """The sentence of the collection that best answers ``question``, with its evidence."""
    if not question.strip():
        raise UsageError("ask needs a question")
    terms = [Term("text", question)]
    if image is not None:
        terms.append(Term("image", os.fspath(image)))
    hits = col.search(Query(tuple(terms)), k=passages)
    encoder = text_encoder(col)
    cands: list[tuple[str, SearchHit, str]] = []
    contexts: list[str] = []
    for h in hits:
        text = _passage(col, h)
        split = sentences(text)
        cands.extend((s, h, text) for s in split)
        contexts.extend(s if n == 0 else f"{split[0]} {s}" for n, s in enumerate(split))
    evidence = [_evidence(h, _passage(col, h)) for h in hits[:EVIDENCE]]
    if not cands:
        return Answer(None, evidence)
    scores = score_sentences(encoder, question, contexts)
    best = int(np.argmax(scores))
    sentence, hit, text = cands[best]
    score = float(scores[best])
    shown = [_evidence(hit, text, score, sentence)]
    shown += [e for e in evidence if e.id != hit.id][: EVIDENCE - 1]
    calibrators = load_calibration(col)
    rel = relevance(hit, calibrators) if calibrators else None
    found = score >= SCORE_FLOOR if rel is None else rel >= min_relevance
    return Answer(sentence if found else None, shown, score, rel)


def _evidence(h: SearchHit, text: str, score: float | None = None, sentence: str = "") -> Evidence:
    return Evidence(
        h.id, h.path, h.modality, text[:500], h.score if score is None else score, sentence,
        h.start, h.end,
    )
