"""Reading and writing the plain-text TREC formats that retrieval evaluation runs on.

qrels, one judgement a line::

    qid  iter  docid  rel        (iter is ignored; rel an integer, <= 0 means not relevant)

run, one retrieved document a line::

    qid  Q0  docid  rank  score  tag

Fields are separated by ASCII whitespace, as trec_eval splits them, so an identifier may
hold any other character. Blank lines and lines starting with ``#`` are skipped. A
(qid, docid) pair may occur only once per file: trec_eval refuses such files too, and
silently keeping either copy would change the numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from xmodal.atomic import atomic_write_text
from xmodal.errors import UsageError

StrPath = str | os.PathLike[str]
V = TypeVar("V")

Qrels = dict[str, dict[str, int]]
"""{qid: {docid: relevance}}"""

Run = dict[str, dict[str, float]]
"""{qid: {docid: score}}"""


@dataclass(frozen=True, slots=True)
class QrelRecord:
    """One judgement line of a qrels file."""

    qid: str
    docid: str
    rel: int


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One line of a run file. ``rank`` is what the file says; evaluation re-ranks by score."""

    qid: str
    docid: str
    rank: int
    score: float
    tag: str


def _fields(path: StrPath) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every non-blank, non-comment line of ``path``."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"{os.fspath(path)}: cannot read: {e.strerror or e}") from None
    for lineno, raw in enumerate(data.splitlines(), start=1):
        # bytes.split() splits on ASCII whitespace only, exactly like trec_eval's isspace()
        # loop; str.split() would also split on e.g. U+00A0 inside an identifier.
        parts = raw.split()
        if not parts or parts[0].startswith(b"#"):
            continue
        try:
            yield lineno, [p.decode("utf-8") for p in parts]
        except UnicodeDecodeError:
            raise UsageError(f"{os.fspath(path)}:{lineno}: not valid UTF-8") from None


def _parse_int(path: StrPath, lineno: int, what: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(
            f"{os.fspath(path)}:{lineno}: {what} must be an integer, got {text!r}"
        ) from None


def _qrels_lines(path: StrPath) -> Iterator[tuple[int, QrelRecord]]:
    for lineno, parts in _fields(path):
        if len(parts) != 4:
            raise UsageError(
                f"{os.fspath(path)}:{lineno}: expected 4 fields 'qid iter docid rel', "
                f"got {len(parts)}"
            )
        qid, _iter, docid, rel = parts
        yield lineno, QrelRecord(qid, docid, _parse_int(path, lineno, "relevance", rel))


def _run_lines(path: StrPath) -> Iterator[tuple[int, RunRecord]]:
    where = os.fspath(path)
    for lineno, parts in _fields(path):
        if len(parts) != 6:
            raise UsageError(
                f"{where}:{lineno}: expected 6 fields 'qid Q0 docid rank score tag', "
                f"got {len(parts)}"
            )
        qid, _q0, docid, rank, score_text, tag = parts
        try:
            score = float(score_text)
        except ValueError:
            raise UsageError(
                f"{where}:{lineno}: score must be a number, got {score_text!r}"
            ) from None
        # NaN cannot be ranked (every comparison with it is false) and an infinite score
        # is almost always a bug upstream rather than a meaningful similarity.
        if not math.isfinite(score):
            raise UsageError(f"{where}:{lineno}: score must be finite, got {score_text!r}")
        yield lineno, RunRecord(qid, docid, _parse_int(path, lineno, "rank", rank), score, tag)


def iter_qrels(path: StrPath) -> Iterator[QrelRecord]:
    """Parse a qrels file line by line; a malformed line raises ``UsageError``."""
    for _, rec in _qrels_lines(path):
        yield rec


def iter_run(path: StrPath) -> Iterator[RunRecord]:
    """Parse a run file line by line; a malformed line raises ``UsageError``."""
    for _, rec in _run_lines(path):
        yield rec


def _nest(
    path: StrPath, entries: Iterable[tuple[int, str, str, V]], twice: str
) -> dict[str, dict[str, V]]:
    """``{qid: {docid: value}}`` from numbered lines; a document twice for one query is
    refused, since the two lines would disagree on its judgement or score."""
    out: dict[str, dict[str, V]] = {}
    for lineno, qid, docid, value in entries:
        inner = out.setdefault(qid, {})
        if docid in inner:
            raise UsageError(
                f"{os.fspath(path)}:{lineno}: document {docid!r} {twice} for query {qid!r}"
            )
        inner[docid] = value
    return out


def read_qrels(path: StrPath) -> Qrels:
    """``{qid: {docid: rel}}`` from a qrels file."""
    lines = _qrels_lines(path)
    return _nest(path, ((n, r.qid, r.docid, r.rel) for n, r in lines), "judged twice")


def read_run(path: StrPath) -> Run:
    """``{qid: {docid: score}}`` from a run file (the rank and tag columns are dropped)."""
    lines = _run_lines(path)
    return _nest(path, ((n, r.qid, r.docid, r.score) for n, r in lines), "retrieved twice")


def _check_token(kind: str, what: str, value: str) -> None:
    # Whitespace would split the field when read back; a leading '#' on the first field
    # would turn the whole line into a comment.
    if not value or any(c.isspace() for c in value) or (what == "query id" and value[0] == "#"):
        raise UsageError(
            f"cannot write {kind}: {what} {value!r} must be non-empty and without whitespace"
            + (", and not start with '#'" if what == "query id" else "")
        )


def ranking_order(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """(docid, score) pairs in the order trec_eval ranks them.

    Score descending, ties broken by docid in *descending* code-point order (trec_eval
    compares docnos with ``strcmp(b, a)``; UTF-8 byte order equals code-point order).
    """
    return sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)


def write_run(path: StrPath, run: Mapping[str, Sequence[tuple[str, float]]], tag: str) -> None:
    """Write ``{qid: [(docid, score), ...]}`` as a TREC run file, atomically.

    Each query's documents are written in trec_eval's ranking order, so the rank column
    agrees with how any evaluator will rank them by score. The file is written to a
    temporary name beside ``path`` and renamed over it, so a reader never sees half a run.
    """
    _check_token("run", "tag", tag)
    lines: list[str] = []
    for qid, ranking in run.items():
        _check_token("run", "query id", qid)
        scores: dict[str, float] = {}
        for docid, score in ranking:
            _check_token("run", "document id", docid)
            value = float(score)
            if not math.isfinite(value):
                raise UsageError(
                    f"cannot write run: query {qid!r}, document {docid!r}: "
                    f"score {value!r} is not finite"
                )
            if docid in scores:
                raise UsageError(
                    f"cannot write run: document {docid!r} listed twice for query {qid!r}"
                )
            scores[docid] = value
        for rank, (docid, value) in enumerate(ranking_order(scores), start=1):
            # repr() is the shortest text that parses back to the same double, so a
            # written run evaluates exactly like the in-memory one.
            lines.append(f"{qid} Q0 {docid} {rank} {value!r} {tag}\n")
    atomic_write_text(Path(path), "".join(lines))


def write_qrels(path: StrPath, qrels: Mapping[str, Mapping[str, int]]) -> None:
    """Write ``{qid: {docid: rel}}`` as a qrels file, atomically."""
    lines: list[str] = []
    for qid, judged in qrels.items():
        _check_token("qrels", "query id", qid)
        for docid, rel in judged.items():
            _check_token("qrels", "document id", docid)
            lines.append(f"{qid} 0 {docid} {int(rel)}\n")
    atomic_write_text(Path(path), "".join(lines))
