"""Answer-sentence recall@1 of ``xmodal ask`` on the question set of the tests.

    python benchmarks/ask_qa.py            # writes a collection under a temporary folder

Indexes the documents of ``tests/qa_docs.py`` with minilm + bm25, asks every question, and
counts a question right when the answer is its answering sentence; the unanswerable
questions must come back "not found".
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from qa_docs import QUESTIONS, UNANSWERABLE, write_docs
from xmodal.apply.answer import ask
from xmodal.collection import Collection


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        docs = write_docs(Path(tmp) / "docs")
        with Collection.open(Path(tmp) / "db") as col:
            col.index([docs], models=["minilm", "bm25"])
            t0 = time.perf_counter()
            right = sum(ask(col, q).answer == s for q, (_, s) in QUESTIONS.items())
            not_found = sum(ask(col, q).answer is None for q in UNANSWERABLE)
            secs = (time.perf_counter() - t0) / (len(QUESTIONS) + len(UNANSWERABLE))
    print(f"answer-sentence recall@1: {right}/{len(QUESTIONS)} = {right / len(QUESTIONS):.3f}")
    print(f"unanswerable reported not found: {not_found}/{len(UNANSWERABLE)}")
    print(f"seconds per question: {secs:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
