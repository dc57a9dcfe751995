"""Calibrated relevance (``calibrate``, ``search --min-relevance``) and ``search --explain``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from awkward import xmodal, xmodal_json
from xmodal.eval.calibration import CALIBRATION_FILE, Calibrator, fit
from xmodal.eval.report.reliability import expected_calibration_error

TOPICS = {
    "fruit": ["apples and pears in an orchard", "ripe bananas on a market stall",
              "a bowl of cherries and plums", "oranges squeezed for juice"],
    "boats": ["a sailing boat in the harbour", "fishing boats at the quay",
              "a ferry crossing the strait", "a rowing boat on the lake"],
    "music": ["a violin concerto in the hall", "a jazz trio playing piano",
              "a choir singing hymns", "drums and guitars at a rock concert"],
}


@pytest.fixture(scope="module")
def cal_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("cal")
    docs = root / "docs"
    docs.mkdir()
    for topic, texts in TOPICS.items():
        for n, t in enumerate(texts):
            (docs / f"{topic}{n}.txt").write_text(t, encoding="utf-8")
    db = root / "db"
    xmodal_json("index", docs, "--db", db, "--model", "minilm", "--model", "bm25", "--json")
    ids = xmodal_json("ids", "--db", db, "--json")
    queries = {
        "f1": "fruit", "f2": "something sweet to eat", "b1": "boats on water",
        "b2": "ships and sailing", "m1": "music performance", "m2": "musicians playing",
    }
    (root / "q.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in queries.items()))
    lines = []
    for q in queries:
        topic = {"f": "fruit", "b": "boats", "m": "music"}[q[0]]
        for path, i in ids.items():
            lines.append(f"{q} 0 {i} {int(Path(path).name.startswith(topic))}\n")
    (root / "qrels.txt").write_text("".join(lines))
    return db, root / "q.tsv", root / "qrels.txt"


def test_fit_and_ece() -> None:
    rng = np.random.default_rng(0)
    s = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < s).astype(int)
    for method in ("isotonic", "platt"):
        xs, ys = fit(s, y, method)  # type: ignore[arg-type]
        p = Calibrator("x", "fp", method, xs, ys).probability(s)  # type: ignore[arg-type]
        assert expected_calibration_error(p, y) < 0.05
    assert expected_calibration_error(np.ones(100), np.zeros(100)) == 1.0


def test_calibrate_then_min_relevance(cal_db: tuple[Path, Path, Path], tmp_path: Path) -> None:
    db, q, qrels = cal_db
    out = xmodal_json("calibrate", "--db", db, "--queries", q, "--qrels", qrels,
                      "--report", tmp_path, "--json")
    assert set(out["spaces"]) == {"minilm", "bm25"}
    assert (tmp_path / "reliability.png").stat().st_size > 0
    stored = json.loads((db / CALIBRATION_FILE).read_text())
    assert stored["spaces"]["minilm"]["fingerprint"]
    every = xmodal_json("search", "boats", "--db", db, "-k", "12", "--json")["results"]
    kept = xmodal_json("search", "boats", "--db", db, "-k", "12", "--min-relevance", "0.5",
                       "--json")["results"]
    assert 0 < len(kept) < len(every)
    assert all(r["relevance"] >= 0.5 for r in kept)
    assert sum("boats" in r["path"] for r in kept) >= len(kept) / 2
    # the eval report of a calibrated collection shows each space's reliability
    report = tmp_path / "eval"
    xmodal_json("eval", "--db", db, "--queries", q, "--qrels", qrels, "--report", report,
                "--json")
    assert (report / "reliability.png").stat().st_size > 0
    assert 'src="reliability.png"' in (report / "index.html").read_text(encoding="utf-8")


def test_min_relevance_needs_calibration(tmp_path: Path) -> None:
    docs = tmp_path / "d"
    docs.mkdir()
    (docs / "a.txt").write_text("a note", encoding="utf-8")
    xmodal_json("index", docs, "--db", tmp_path / "db", "--model", "bm25", "--json")
    done = xmodal("search", "note", "--db", tmp_path / "db", "--min-relevance", "0.5")
    assert done.returncode == 2 and "calibrate" in done.stderr
    bad = xmodal("search", "note", "--db", tmp_path / "db", "--min-relevance", "2")
    assert bad.returncode == 2


def test_explain_says_why(cal_db: tuple[Path, Path, Path]) -> None:
    db, _, _ = cal_db
    out = xmodal_json("search", "sailing boat", "--db", db, "-k", "3", "--explain", "--json")
    top = out["results"][0]
    why = top["why"]
    assert set(why["spaces"]) == {"minilm", "bm25"}
    assert abs(sum(v["share"] for v in why["spaces"].values()) - 1.0) < 1e-6
    assert "boat" in " ".join(why["words"]["bm25"])
    assert why["neighbour"]["id"] != top["id"]
    text = xmodal("search", "sailing boat", "--db", db, "-k", "2", "--explain")
    assert text.returncode == 0 and "spaces:" in text.stdout
