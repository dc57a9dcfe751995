from __future__ import annotations

from xmodal.query.fusion import RRF_K, fuse


def test_single_ranking_passes_scores_through() -> None:
    out = fuse({"a": [("x", 0.9), ("y", 0.5)]})
    assert [(f.key, f.score) for f in out] == [("x", 0.9), ("y", 0.5)]


def test_rrf_rewards_agreement() -> None:
    out = fuse({"a": [("x", 0.9), ("y", 0.8), ("z", 0.1)], "b": [("y", 0.7), ("z", 0.6)]})
    assert [f.key for f in out] == ["y", "z", "x"]
    y = out[0]
    assert abs(y.score - (1 / (RRF_K + 2) + 1 / (RRF_K + 1))) < 1e-12
    assert y.per_space == {"a": 0.8, "b": 0.7}


def test_weighted_sum_and_zero_weight_drops_a_space() -> None:
    r = {"a": [("x", 0.9), ("y", 0.2)], "b": [("y", 0.9)]}
    out = fuse(r, "weighted", {"a": 1.0, "b": 0.5})
    assert [(f.key, round(f.score, 6)) for f in out] == [("x", 0.9), ("y", 0.65)]
    only_a = fuse(r, "rrf", {"b": 0.0})
    assert [f.key for f in only_a] == ["x", "y"]


def test_ties_break_by_key_for_determinism() -> None:
    out = fuse({"a": [("b", 0.5), ("a", 0.5)]})
    assert [f.key for f in out] == ["a", "b"]
