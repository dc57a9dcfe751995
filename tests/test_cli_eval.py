from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from xmodal import Collection
from xmodal.errors import UsageError
from xmodal.eval.runner import qrels_by_path, read_queries
from xmodal.eval.trec import read_run


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xmodal.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def shapes(tmp_path: Path, make_image: Callable[..., Path]) -> tuple[Path, Path]:
    root = tmp_path / "shapes"
    colours = {"red": (220, 20, 20), "blue": (20, 20, 220), "green": (20, 180, 20)}
    for name, c in colours.items():
        for shape in ("circle", "square"):
            make_image(root / f"{name}-{shape}.png", c, shape)
    db = tmp_path / "db"
    Collection.open(db).index([root], models=["classic"])
    return root, db


def test_eval_on_own_collection(tmp_path: Path, shapes: tuple[Path, Path]) -> None:
    root, db = shapes
    with Collection.open(db) as col:
        ids = col.ids()
    queries = tmp_path / "queries.tsv"
    queries.write_text(
        "# own labelled queries\n"
        f"q1\timage:{root}/red-circle.png\n"
        "q2\timage:shapes/blue-square.png\n"  # relative to the queries file
    )
    qrels = tmp_path / "qrels"
    qrels.write_text(
        f"q1 0 {ids[str(root / 'red-circle.png')]} 1\n"
        f"q1 0 {ids[str(root / 'red-square.png')]} 1\n"
        f"q2 0 {ids[str(root / 'blue-square.png')]} 2\n"
    )
    run_out = tmp_path / "run.txt"
    p = _cli(
        "eval", "--db", str(db), "--queries", str(queries), "--qrels", str(qrels),
        "--run-out", str(run_out), "-k", "4", "--json",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["num_queries"] == 2
    assert out["success@1"] == 1.0 and out["mrr"] == 1.0
    assert {"precision@4", "recall@10", "map", "ndcg@10"} <= set(out)
    run = read_run(run_out)
    assert set(run) == {"q1", "q2"} and all(len(r) == 4 for r in run.values())
    # the run file scores the same as the eval command
    m = _cli("metrics", "--qrels", str(qrels), "--run", str(run_out), "-k", "4", "--json")
    again = json.loads(m.stdout)
    for key in ("map", "mrr", "precision@4", "ndcg@4"):
        assert again[key] == pytest.approx(out[key], abs=1e-12)


def test_eval_report_compares_spaces(tmp_path: Path, shapes: tuple[Path, Path]) -> None:
    root, db = shapes
    with Collection.open(db) as col:
        ids = col.ids()
    queries = tmp_path / "queries.tsv"
    queries.write_text(f"q1\timage:{root}/red-circle.png\nq2\tred things\n")
    qrels = tmp_path / "qrels"
    qrels.write_text(
        f"q1 0 {ids[str(root / 'red-square.png')]} 1\nq2 0 {ids[str(root / 'red-circle.png')]} 1\n"
    )
    report = tmp_path / "report"
    p = _cli(
        "eval", "--db", str(db), "--queries", str(queries), "--qrels", str(qrels),
        "--model", "classic", "--report", str(report), "--compare", "classic", "--json",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["num_queries"] == 2  # the text query scores 0 on pixels alone
    html = (report / "index.html").read_text()
    assert "classic" in html and "red things" in html
    assert (report / "recall_at_k.png").stat().st_size > 1000
    assert any((report / "thumbs").iterdir())


def test_eval_usage_errors(tmp_path: Path, shapes: tuple[Path, Path]) -> None:
    _, db = shapes
    bad = tmp_path / "bad.tsv"
    bad.write_text("q1 no tab here\n")
    qrels = tmp_path / "qrels"
    qrels.write_text("q9 0 x 1\n")
    p = _cli("eval", "--db", str(db), "--queries", str(bad), "--qrels", str(qrels))
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    good = tmp_path / "good.tsv"
    good.write_text("q1\tanything\n")
    p = _cli("eval", "--db", str(db), "--queries", str(good), "--qrels", str(qrels))
    assert p.returncode == 2 and "no query" in p.stderr


def test_read_queries_and_path_qrels(tmp_path: Path) -> None:
    f = tmp_path / "q.tsv"
    f.write_text("a\tred car\nb\timage:x.png\n")
    assert read_queries(f) == {"a": "red car", "b": "image:x.png"}
    f.write_text("a\tx\na\ty\n")
    with pytest.raises(UsageError, match="twice"):
        read_queries(f)
    ids = {str(tmp_path / "img" / "1.png"): "id1"}
    assert qrels_by_path({"q": {"img/1.png": 1}}, ids, tmp_path) == {"q": {"id1": 1}}
    with pytest.raises(UsageError, match="not in the collection"):
        qrels_by_path({"q": {"img/2.png": 1}}, ids, tmp_path)
