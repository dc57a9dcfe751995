from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import draw_image
from xmodal.eval import evaluate
from xmodal.eval.report import (
    PR_PLOT,
    RECALL_LEVELS,
    RECALL_PLOT,
    RunReport,
    interpolated_precision,
    recall_curve,
    write_report,
)
from xmodal.eval.stats import bootstrap_ci, paired_test, sign_flip_p

# --- statistics ------------------------------------------------------------------------


def test_bootstrap_ci_contains_mean_and_shrinks_with_more_data() -> None:
    rng = np.random.default_rng(3)
    small = rng.random(30)
    large = rng.random(3000)
    mean_s, low_s, high_s = bootstrap_ci(small)
    mean_l, low_l, high_l = bootstrap_ci(large)
    assert mean_s == pytest.approx(small.mean())
    assert low_s <= mean_s <= high_s
    assert low_l <= mean_l <= high_l
    # the interval narrows like 1/sqrt(n): 100x the data, about a tenth of the width
    assert (high_l - low_l) < (high_s - low_s) / 4


def test_bootstrap_ci_is_deterministic_and_validates() -> None:
    values = [0.1, 0.5, 0.9, 0.3]
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci([0.4] * 5) == (0.4, 0.4, 0.4)
    with pytest.raises(ValueError):
        bootstrap_ci([])
    with pytest.raises(ValueError):
        bootstrap_ci([0.1, math.nan])
    with pytest.raises(ValueError):
        bootstrap_ci([0.1], confidence=1.0)


def test_bootstrap_median_keeps_infinite_ranks() -> None:
    ranks = [1.0, 2.0, math.inf, 3.0, math.inf]
    est, low, high = bootstrap_ci(ranks, statistic="median")
    assert est == statistics.median(ranks) == 3.0
    assert low >= 1.0
    assert high == math.inf  # resamples with mostly failures have an infinite median


def test_paired_test_finds_a_clearly_better_system() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(40)
    b = np.clip(a + 0.15 + rng.normal(0, 0.05, 40), 0, 1)
    r = paired_test(a, b)
    assert r.mean_diff == pytest.approx(float(np.mean(b - a)))
    assert r.p_value < 0.01
    assert r.wilcoxon_p is not None and r.wilcoxon_p < 0.01
    assert 0 < r.ci_low <= r.mean_diff <= r.ci_high
    assert r.n == 40 and r.n_differ == 40


def test_paired_test_identical_systems_have_p_one() -> None:
    values = [0.2, 0.0, 1.0, 0.5, 0.5]
    r = paired_test(values, values)
    assert r.p_value == 1.0
    assert r.wilcoxon_p == 1.0
    assert r.mean_diff == r.ci_low == r.ci_high == 0.0
    assert r.n_differ == 0


def test_sign_flip_p_is_valid_and_symmetric() -> None:
    rng = np.random.default_rng(11)
    for n in (3, 8, 40, 200):
        d = rng.normal(0.05, 1.0, n)
        p, _ = sign_flip_p(d, n_resamples=2000)
        assert 0.0 < p <= 1.0
        assert sign_flip_p(-d, n_resamples=2000)[0] == p
    # exact enumeration: three equal positive differences, 2 of 8 patterns as extreme
    assert sign_flip_p([1.0, 1.0, 1.0]) == (0.25, True)
    assert sign_flip_p([0.0, 0.0]) == (1.0, True)
    # a paired test is symmetric in its arguments too
    a, b = rng.random(30), rng.random(30)
    assert paired_test(a, b).p_value == paired_test(b, a).p_value


def test_sign_flip_p_holds_its_level_under_the_null() -> None:
    rng = np.random.default_rng(5)
    ps = [sign_flip_p(rng.normal(0, 1, 25), n_resamples=1000, seed=i)[0] for i in range(300)]
    # about 5% rejections at 0.05 when there is no difference; allow sampling noise
    assert sum(p < 0.05 for p in ps) / len(ps) < 0.1


def test_paired_test_caps_infinite_ranks() -> None:
    a = [1.0, math.inf, 3.0, math.inf]
    b = [1.0, 2.0, math.inf, math.inf]
    r = paired_test(a, b)
    assert r.n_capped == 4
    assert all(math.isfinite(x) for x in (r.mean_a, r.mean_b, r.mean_diff, r.p_value))
    assert r.n_differ == 2  # both-infinite is a tie, not inf - inf


# --- curves ----------------------------------------------------------------------------


def _random_case(seed: int, n_queries: int = 12) -> tuple[dict, dict]:
    rnd = random.Random(seed)
    docs = [f"d{i}" for i in range(30)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(n_queries):
        qid = f"q{q}"
        qrels[qid] = {d: rnd.choice([0, 0, 1, 2]) for d in rnd.sample(docs, 8)}
        run[qid] = {d: round(rnd.random(), 1) for d in rnd.sample(docs, rnd.randint(0, 20))}
    return qrels, run


def test_recall_curve_agrees_with_metrics() -> None:
    qrels, run = _random_case(1)
    result = evaluate(qrels, run, ks=(1, 3, 7, 20))
    curve = recall_curve(qrels, run, result.per_query, 20)
    for k in result.ks:
        assert curve[k - 1] == pytest.approx(result.means[f"recall@{k}"])


def test_interpolated_precision_matches_trec_eval() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels, run = _random_case(2, n_queries=20)
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"iprec_at_recall"})
    expected = evaluator.evaluate(run)
    for qid, row in expected.items():
        mine = interpolated_precision(qrels, run, [qid])
        if not run[qid]:
            # pytrec_eval gives NaN for a query that retrieved nothing; metrics score it 0
            assert not mine.any()
            continue
        for level, value in zip(RECALL_LEVELS, mine, strict=True):
            assert value == pytest.approx(row[f"iprec_at_recall_{level:.2f}"]), (qid, level)


# --- report ----------------------------------------------------------------------------


QRELS = {
    "q1": {"red": 1, "blue": 0},
    "q2": {"blue": 2, "green": 1},
    "q3": {"green": 1},
    "q4": {"note": 1, "red": 0},
}
QUERIES = {
    "q1": "a red circle",
    "q2": "blue things",
    "q3": "<script>alert('x')</script> & friends",
    "q4": "a text note",
}
RUN_A = {
    "q1": {"blue": 0.9, "red": 0.8, "green": 0.1},
    "q2": {"red": 0.9, "green": 0.5, "blue": 0.4},
    "q3": {"red": 0.7, "blue": 0.6},
    "q4": {"note": 0.3, "red": 0.9},
}
RUN_B = {
    "q1": {"red": 0.9, "blue": 0.8},
    "q2": {"blue": 0.9, "green": 0.8, "red": 0.1},
    "q3": {"green": 0.9, "red": 0.2},
    "q4": {"note": 0.9, "red": 0.1},
}


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, color, shape in [
        ("red", (220, 20, 20), "circle"),
        ("blue", (20, 40, 220), "square"),
        ("green", (20, 160, 40), "triangle"),
    ]:
        path = tmp_path / "media" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        draw_image(color, shape, 40).save(path)
        out[name] = path
    broken = tmp_path / "media" / "note.png"
    broken.write_bytes(b"not an image at all")
    out["note"] = broken
    return out


def _report(name: str, run: dict[str, dict[str, float]]) -> RunReport:
    return RunReport(
        name=name,
        qrels=QRELS,
        run=run,
        result=evaluate(QRELS, run, ks=(1, 5)),
        queries=QUERIES,
        doc_labels={"note": "notes/todo.txt"},
    )


def test_report_for_one_run(tmp_path: Path) -> None:
    out = tmp_path / "one"
    index = write_report(out, [_report("only <run>", RUN_A)], title="Tiny & small")
    assert index == out / "index.html"
    page = index.read_text(encoding="utf-8")
    assert "only &lt;run&gt;" in page and "Tiny &amp; small" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Compared with" not in page
    for plot in (RECALL_PLOT, PR_PLOT):
        with Image.open(out / plot) as im:
            assert im.format == "PNG"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["runs"][0]["name"] == "only <run>"
    assert summary["comparisons"] == []
    # no thumbnail source: every tile is its label, and no thumbs folder appears
    assert not (out / "thumbs").exists()
    assert "notes/todo.txt" in page
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_report_for_two_runs_with_thumbnails(tmp_path: Path, images: dict[str, Path]) -> None:
    out = tmp_path / "two"
    runs = [_report("baseline", RUN_A), _report("improved", RUN_B)]
    index = write_report(out, runs, title="Two runs", thumbnails=images.get, worst_n=4)
    page = index.read_text(encoding="utf-8")
    assert "baseline" in page and "improved" in page
    assert "Compared with baseline" in page
    assert "<script>" not in page
    assert 'class="tile rel"' in page  # relevant results are marked

    thumbs = sorted((out / "thumbs").glob("*.png"))
    assert thumbs
    for thumb in thumbs:
        with Image.open(thumb) as im:
            assert im.format == "PNG" and max(im.size) <= 224
            assert f'src="thumbs/{thumb.name}"' in page
    # the unreadable image falls back to its label instead of failing the report
    assert "todo.txt" in page

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in summary["runs"]] == ["baseline", "improved"]
    metrics = {c["metric"] for c in summary["comparisons"]}
    assert metrics == {"recall@10", "ndcg@10", "map", "mrr"}
    for c in summary["comparisons"]:
        assert c["baseline"] == "baseline" and c["run"] == "improved"
        assert 0.0 < c["p_value"] <= 1.0
    for run in summary["runs"]:
        assert sorted(run["hardest_queries"]) == sorted(QRELS)
        m = run["metrics"]["map"]
        assert m["low"] <= m["value"] <= m["high"]
    assert summary["runs"][1]["metrics"]["map"]["value"] == pytest.approx(
        evaluate(QRELS, RUN_B).means["map"]
    )

    # writing again over an existing report replaces it in place
    write_report(out, runs[:1], title="Again")
    assert "Again" in index.read_text(encoding="utf-8")


def test_report_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one run"):
        write_report(tmp_path, [], title="x")
    with pytest.raises(ValueError, match="distinct"):
        write_report(tmp_path, [_report("a", RUN_A), _report("a", RUN_B)], title="x")
