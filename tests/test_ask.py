"""``xmodal ask``: the answering sentence found among passages, "not found" when none is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from awkward import xmodal, xmodal_json
from qa_docs import QUESTIONS, UNANSWERABLE, write_docs
from xmodal.apply.answer import ask, sentences
from xmodal.collection import Collection


@pytest.fixture(scope="module")
def qa_col(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collection]:
    """One collection for the module, indexed and asked in this process (the encoder is
    loaded once); the CLI test reads the same folder."""
    root = tmp_path_factory.mktemp("qa")
    docs = write_docs(root / "docs")
    with Collection.open(root / "db") as col:
        col.index([docs], models=["minilm", "bm25"])
        yield col


def test_sentences_split_english_and_chinese() -> None:
    assert sentences("Dr. Smith came. He left!") == ["Dr. Smith came.", "He left!"]
    assert sentences("它建于1889年。很高！") == ["它建于1889年。", "很高！"]


def test_answer_sentence_recall_at_1(qa_col: Collection) -> None:
    right = 0
    for q, (name, sentence) in QUESTIONS.items():
        a = ask(qa_col, q)
        right += a.answer == sentence and Path(a.evidence[0].path).name == name
    assert right / len(QUESTIONS) >= 0.8


def test_unanswerable_is_not_found(qa_col: Collection) -> None:
    for q in UNANSWERABLE:
        assert ask(qa_col, q).answer is None, q


def test_ask_cli_contract(qa_col: Collection) -> None:
    qa_db = qa_col.root
    out = xmodal_json("ask", "When was the lighthouse built?", "--db", qa_db, "--json")
    assert out["answer"] == QUESTIONS["When was the lighthouse built?"][1]
    assert out["evidence"] and {"id", "path", "text"} <= set(out["evidence"][0])
    none = xmodal_json("ask", UNANSWERABLE[0], "--db", qa_db, "--json")
    assert none["answer"] is None and isinstance(none["evidence"], list)
    text = xmodal("ask", "Who founded the botanical garden?", "--db", qa_db)
    assert text.returncode == 0 and "professor of medicine" in text.stdout
    bad = xmodal("ask", " ", "--db", qa_db)
    assert bad.returncode == 2 and "question" in bad.stderr
