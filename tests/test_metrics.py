from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest

from xmodal.errors import UsageError
from xmodal.eval import (
    EvalResult,
    evaluate,
    evaluate_files,
    evaluate_query,
    format_table,
    iter_run,
    metric_names,
    ranking_order,
    read_qrels,
    read_run,
    write_qrels,
    write_run,
)

# --- hand-computed cases -------------------------------------------------------------

# Ranked by trec_eval: d (2.0, unjudged), then the 1.0 tie in descending docid order c, b, a.
# Relevant: c (rel 2) at rank 2, a (rel 1) at rank 4; b is judged non-relevant.
QRELS_1 = {"q1": {"a": 1, "b": 0, "c": 2}}
RUN_1 = {"q1": {"a": 1.0, "b": 1.0, "c": 1.0, "d": 2.0}}


def test_hand_computed_query() -> None:
    m = evaluate_query(QRELS_1["q1"], RUN_1["q1"], ks=(1, 2, 5))
    assert m["success@1"] == m["accuracy@1"] == 0.0
    assert m["success@2"] == m["accuracy@2"] == 1.0
    assert m["precision@1"] == 0.0
    assert m["precision@2"] == 0.5
    assert m["precision@5"] == pytest.approx(2 / 5)  # denominator k although 4 retrieved
    assert m["recall@2"] == 0.5
    assert m["recall@5"] == 1.0
    assert m["f1@2"] == pytest.approx(0.5)
    assert m["f1@5"] == pytest.approx(2 * 0.4 * 1.0 / 1.4)
    assert m["f1@1"] == 0.0
    assert m["map"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert m["map@2"] == pytest.approx((1 / 2) / 2)  # still divided by all relevant
    assert m["mrr"] == 0.5
    assert m["r-precision"] == 0.5  # R = 2: top two are d, c
    assert m["median_rank"] == 2.0

    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 + 1 / math.log2(3)
    assert m["ndcg"] == pytest.approx(dcg / idcg)
    assert m["ndcg@1"] == 0.0
    assert m["ndcg@2"] == pytest.approx((2 / math.log2(3)) / idcg)
    assert m["ndcg@5"] == pytest.approx(dcg / idcg)
    dcg_exp = 3 / math.log2(3) + 1 / math.log2(5)
    idcg_exp = 3 + 1 / math.log2(3)
    assert m["ndcg_exp"] == pytest.approx(dcg_exp / idcg_exp)
    assert m["ndcg_exp@2"] == pytest.approx((3 / math.log2(3)) / idcg_exp)
    assert list(m) == metric_names((1, 2, 5))


def test_perfect_and_empty_rankings() -> None:
    judged = {"x": 3, "y": 1, "z": 0}
    perfect = evaluate_query(judged, {"x": 0.9, "y": 0.8, "z": 0.1})
    assert perfect["map"] == perfect["ndcg"] == perfect["ndcg_exp"] == perfect["mrr"] == 1.0
    assert perfect["ndcg@1"] == perfect["r-precision"] == 1.0
    assert perfect["precision@5"] == pytest.approx(2 / 5)

    nothing = evaluate_query(judged, {})
    assert all(v == 0.0 for k, v in nothing.items() if k != "median_rank")
    assert nothing["median_rank"] == math.inf


def test_ties_break_by_docid_descending() -> None:
    judged = {"a": 1}
    assert ranking_order({"a": 1.0, "b": 1.0}) == [("b", 1.0), ("a", 1.0)]
    assert evaluate_query(judged, {"a": 1.0, "b": 1.0})["precision@1"] == 0.0
    assert evaluate_query(judged, {"b": 1.0, "a": 1.0})["mrr"] == 0.5  # input order irrelevant
    # code-point order: "B" < "a", and a prefix sorts before its extensions
    assert evaluate_query(judged, {"a": 1.0, "B": 1.0})["precision@1"] == 1.0
    assert evaluate_query(judged, {"a": 1.0, "aa": 1.0})["mrr"] == 0.5
    # the score still decides first
    assert evaluate_query(judged, {"a": 1.5, "b": 1.0})["precision@1"] == 1.0


def test_unjudged_and_negative_judgements_are_not_relevant() -> None:
    m = evaluate_query({"r": 1, "n": -1, "z": 0}, {"u": 3.0, "n": 2.0, "z": 1.0, "r": 0.0})
    assert m["mrr"] == 0.25
    assert m["map"] == 0.25
    assert m["ndcg"] == pytest.approx(1 / math.log2(5))


def test_query_set_and_medians() -> None:
    qrels = {
        "hit1": {"a": 1},
        "hit3": {"c": 1},
        "nonrel": {"a": 0, "b": 0},  # judged, but nothing relevant: evaluated, scores 0
        "qrels_only": {"a": 1},  # not in the run: left out
        "unassessed": {},  # no judgement lines at all: left out
    }
    run = {
        "hit1": {"a": 3.0, "b": 2.0},
        "hit3": {"a": 3.0, "b": 2.0, "c": 1.0},
        "nonrel": {"a": 1.0},
        "run_only": {"a": 1.0},  # not in the qrels: left out
        "unassessed": {"a": 1.0},
    }
    res = evaluate(qrels, run, ks=(1,))
    assert isinstance(res, EvalResult)
    assert list(res.per_query) == ["hit1", "hit3", "nonrel"]
    assert res.num_queries == 3
    assert all(v == 0.0 for k, v in res.per_query["nonrel"].items() if k != "median_rank")
    assert res.per_query["nonrel"]["median_rank"] == math.inf
    assert res.means["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert res.means["success@1"] == pytest.approx(1 / 3)
    assert res.means["median_rank"] == 3.0  # median of 1, 3, inf

    even = evaluate({"a": {"x": 1}, "b": {"x": 1}}, {"a": {"x": 1.0}, "b": {"y": 2.0, "x": 1.0}})
    assert even.means["median_rank"] == 1.5
    lost = evaluate({"a": {"x": 1}, "b": {"x": 1}}, {"a": {"x": 1.0}, "b": {"y": 1.0}})
    assert lost.means["median_rank"] == math.inf

    empty = evaluate(qrels, {"run_only": {"a": 1.0}})
    assert empty.num_queries == 0 and empty.means == {} and empty.per_query == {}


def test_cutoffs_validated_and_normalised() -> None:
    res = evaluate(QRELS_1, RUN_1, ks=[10, 1, 10])
    assert res.ks == (1, 10)
    assert "precision@10" in res.means and "precision@5" not in res.means
    for bad in ([0], [-3], [], [2.0], [True]):
        with pytest.raises(UsageError):
            evaluate(QRELS_1, RUN_1, ks=bad)  # type: ignore[arg-type]


def test_nan_score_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        evaluate_query({"a": 1}, {"a": math.nan})


def test_format_table() -> None:
    res = evaluate(QRELS_1, RUN_1, ks=(1,))
    table = format_table(res.means)
    lines = table.splitlines()
    assert len(lines) == len(res.means)
    assert lines[0].split() == ["map", "0.5000"]
    assert any(line.split() == ["median_rank", "2"] for line in lines)
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert "inf" in format_table({"median_rank": math.inf})
    assert format_table({}) == "(no queries evaluated)"


# --- TREC files ----------------------------------------------------------------------


def test_files_round_trip_and_evaluate(tmp_path: Path) -> None:
    qrels_path, run_path = tmp_path / "qrels.txt", tmp_path / "run.txt"
    write_qrels(qrels_path, QRELS_1)
    # ranked list order in the input does not matter: the writer ranks by trec_eval's rule
    write_run(run_path, {"q1": [("a", 1.0), ("b", 1.0), ("c", 1.0), ("d", 2.0)]}, tag="t")
    assert read_qrels(qrels_path) == QRELS_1
    assert read_run(run_path) == RUN_1
    records = list(iter_run(run_path))
    assert [(r.docid, r.rank) for r in records] == [("d", 1), ("c", 2), ("b", 3), ("a", 4)]
    assert {r.tag for r in records} == {"t"}
    assert sorted(os.listdir(tmp_path)) == ["qrels.txt", "run.txt"]  # no temporaries left

    from_files = evaluate_files(qrels_path, run_path, ks=(1, 5))
    assert from_files.means == evaluate(QRELS_1, RUN_1, ks=(1, 5)).means
    assert from_files.num_queries == 1


def test_write_run_keeps_scores_exact(tmp_path: Path) -> None:
    rng = random.Random(7)
    run = {"q": [(f"d{i}", rng.uniform(-1, 1)) for i in range(50)]}
    path = tmp_path / "run.txt"
    write_run(path, run, tag="exact")
    assert read_run(path) == {"q": dict(run["q"])}
    write_run(path, {"q": [("only", 1.0)]}, tag="again")  # replaces the old file
    assert read_run(path) == {"q": {"only": 1.0}}


@pytest.mark.parametrize(
    ("run", "tag", "needle"),
    [
        ({"q": [("a b", 1.0)]}, "t", "document id"),
        ({"q": [("a", 1.0), ("a", 2.0)]}, "t", "twice"),
        ({"q": [("a", math.inf)]}, "t", "not finite"),
        ({"": [("a", 1.0)]}, "t", "query id"),
        ({"q": [("a", 1.0)]}, "my tag", "tag"),
    ],
)
def test_write_run_rejects_unwritable(tmp_path: Path, run: dict, tag: str, needle: str) -> None:
    path = tmp_path / "run.txt"
    with pytest.raises(UsageError, match=needle):
        write_run(path, run, tag)
    assert not list(tmp_path.iterdir())


def test_comments_blank_lines_and_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "qrels"
    path.write_bytes(b"# judged by hand\n\nq1\t0  d\xc3\xa9 2\r\n  q1 0 d2 -1\n")
    assert read_qrels(path) == {"q1": {"dé": 2, "d2": -1}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q1 0 d1\n", "qrels:1: expected 4 fields 'qid iter docid rel', got 3"),
        ("q1 0 d1 1\nq1 0 d2 yes\n", "qrels:2: relevance must be an integer, got 'yes'"),
        ("q1 0 d1 1\nq1 0 d1 0\n", "qrels:2: document 'd1' judged twice for query 'q1'"),
    ],
)
def test_malformed_qrels(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "qrels"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        read_qrels(path)
    assert str(info.value) == f"{path}:{message.split(':', 1)[1]}"
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q1 Q0 d1 1 0.5\n", "run:1: expected 6 fields 'qid Q0 docid rank score tag', got 5"),
        ("q1 Q0 d1 one 0.5 t\n", "run:1: rank must be an integer, got 'one'"),
        ("\n\nq1 Q0 d1 1 high t\n", "run:3: score must be a number, got 'high'"),
        ("q1 Q0 d1 1 nan t\n", "run:1: score must be finite, got 'nan'"),
        ("q1 Q0 d1 1 1 t\nq1 Q0 d1 2 0 t\n", "run:2: document 'd1' retrieved twice for query 'q1'"),
    ],
)
def test_malformed_run(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "run"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        read_run(path)
    assert str(info.value) == f"{path}:{message.split(':', 1)[1]}"


def test_unreadable_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        read_run(tmp_path / "missing")
    path = tmp_path / "run"
    path.write_bytes(b"q1 Q0 d\xff 1 1 t\n")
    with pytest.raises(UsageError, match=r"run:1: not valid UTF-8"):
        read_run(path)


def test_evaluate_files_without_common_queries(tmp_path: Path) -> None:
    (tmp_path / "qrels").write_text("q1 0 a 1\n")
    (tmp_path / "run").write_text("q2 Q0 a 1 1.0 t\n")
    with pytest.raises(UsageError, match="no query"):
        evaluate_files(tmp_path / "qrels", tmp_path / "run")


# --- agreement with the reference implementation -------------------------------------

KS = (1, 2, 3, 5, 10, 20)
_CUTS = ",".join(map(str, KS))
REFERENCE_MEASURES = {
    f"P.{_CUTS}",
    f"recall.{_CUTS}",
    f"map_cut.{_CUTS}",
    f"ndcg_cut.{_CUTS}",
    f"success.{_CUTS}",
    "map",
    "ndcg",
    "recip_rank",
    "Rprec",
}
_PREFIXES = {
    "P_": "precision@",
    "recall_": "recall@",
    "map_cut_": "map@",
    "ndcg_cut_": "ndcg@",
    "success_": "success@",
}
_PLAIN = {"map": "map", "ndcg": "ndcg", "recip_rank": "mrr", "Rprec": "r-precision"}


def _our_name(reference_name: str) -> str:
    if reference_name in _PLAIN:
        return _PLAIN[reference_name]
    for prefix, ours in sorted(_PREFIXES.items(), key=lambda p: -len(p[0])):
        if reference_name.startswith(prefix):
            return ours + reference_name[len(prefix) :]
    raise AssertionError(reference_name)


def _random_case(
    rng: random.Random,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    # Few distinct docids and scores so ties, shared prefixes ("d1"/"d10") and mixed case
    # come up constantly; the pool is shared so runs hit judged and unjudged documents.
    pool = list(
        dict.fromkeys(
            rng.choice(["d", "D", "doc", "x", "é", ""]) + str(rng.randint(0, 25)) for _ in range(40)
        )
    )
    scores = [0.0, 1.0, 2.0, 0.5, -1.0]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(rng.randint(1, 6)):
        qid = f"q{q}"
        if rng.random() < 0.85:
            judged = {d: rng.choice([-1, 0, 0, 1, 1, 2, 3]) for d in rng.sample(pool, 8)}
            judged = dict(list(judged.items())[: rng.randint(1, 8)])
            # A query judged only negatively sends the reference into an endless loop
            # (its nDCG walks rel levels below zero), so keep one judgement >= 0.
            if all(r < 0 for r in judged.values()):
                judged[rng.choice(pool)] = rng.choice([0, 1])
            if rng.random() < 0.2:
                judged = {d: min(r, 0) for d, r in judged.items()}  # nothing relevant
            qrels[qid] = judged
        if rng.random() < 0.85:
            n = rng.randint(0, 25)
            run[qid] = {
                d: rng.choice(scores) if rng.random() < 0.7 else rng.uniform(-2, 2)
                for d in rng.sample(pool, min(n, len(pool)))
            }
    return qrels, run


def test_matches_pytrec_eval_on_random_runs() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(20240611)
    compared = 0
    for _ in range(1500):
        qrels, run = _random_case(rng)
        reference = pytrec_eval.RelevanceEvaluator(qrels, REFERENCE_MEASURES).evaluate(run)
        ours = evaluate(qrels, run, ks=KS)
        assert set(ours.per_query) == set(reference), (qrels, run)
        for qid, values in reference.items():
            for name, expected in values.items():
                got = ours.per_query[qid][_our_name(name)]
                assert got == pytest.approx(expected, abs=1e-9, rel=0), (qid, name, qrels, run)
                compared += 1
        for name in {n for values in reference.values() for n in values}:
            expected = sum(v[name] for v in reference.values()) / len(reference)
            assert ours.means[_our_name(name)] == pytest.approx(expected, abs=1e-9, rel=0)
    assert compared > 50_000  # the generator really exercises the reference


def test_write_qrels_rejects_comment_like_query(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write qrels: query id '#1'"):
        write_qrels(tmp_path / "qrels", {"#1": {"a": 1}})
    write_qrels(tmp_path / "qrels", {"q": {"#a": 1}})  # only a leading field can comment
    assert read_qrels(tmp_path / "qrels") == {"q": {"#a": 1}}
