from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xmodal.eval.metrics import evaluate_files


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xmodal.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_metrics_cli_matches_library(tmp_path: Path) -> None:
    qrels = tmp_path / "qrels"
    run = tmp_path / "run"
    qrels.write_text("q1 0 d1 1\nq1 0 d2 0\nq1 0 d3 2\nq2 0 d9 1\n")
    run.write_text("q1 Q0 d3 1 0.9 t\nq1 Q0 d2 2 0.8 t\nq1 Q0 d1 3 0.1 t\nq2 Q0 d9 1 1.0 t\n")
    p = _run("metrics", "--qrels", str(qrels), "--run", str(run), "--json", "-k", "2")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    ref = evaluate_files(qrels, run, ks=(2,))
    assert out["num_queries"] == 2
    for name, value in ref.means.items():
        assert out[name] == pytest.approx(value, abs=1e-12)
    assert {"precision@2", "recall@2", "f1@2", "map", "ndcg@2", "mrr"} <= set(out)


def test_metrics_cli_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    qrels = tmp_path / "qrels"
    qrels.write_text("q1 0 d1 notanumber\n")
    run = tmp_path / "run"
    run.write_text("q1 Q0 d1 1 1.0 t\n")
    p = _run("metrics", "--qrels", str(qrels), "--run", str(run))
    assert p.returncode == 2
    assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
    assert "qrels:1" in p.stderr
