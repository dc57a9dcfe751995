"""Calibrated relevance: each space's scores mapped to a probability that a hit is relevant.

A flat score threshold means different things in different spaces and collections (a cosine
of 0.3 is close in one space and far in another, a BM25 score is unbounded). So the scores of
labelled queries, run the way ``xmodal eval`` runs them (``runner.run_queries``, one space at
a time), are fitted to the judgements with isotonic regression or Platt scaling
(scikit-learn), and the map is stored beside the collection in ``calibration.json``, keyed by
space and by the fingerprint of the encoder that built it: a space rebuilt with another
encoder has no calibration until it is fitted again.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from xmodal.atomic import atomic_write_text
from xmodal.collection import Collection
from xmodal.errors import UsageError
from xmodal.eval.report.reliability import expected_calibration_error
from xmodal.eval.runner import RunOptions, run_queries
from xmodal.eval.trec import Qrels
from xmodal.progress import ProgressFactory
from xmodal.records import SearchHit

CALIBRATION_FILE = "calibration.json"
Method = Literal["isotonic", "platt"]
DEFAULT_DEPTH = 50
#: share of queries held out to measure the fitted map
HELDOUT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Calibrator:
    """One space's map from score to probability of relevance."""

    space: str
    fingerprint: str
    method: Method
    #: isotonic: the step function's knots; platt: [slope] and [intercept]
    xs: list[float]
    ys: list[float]
    queries: int = 0
    pairs: int = 0
    ece_heldout: float | None = None

    def probability(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.xs[0] * s + self.ys[0])))
        return np.interp(s, self.xs, self.ys)


def fit(scores: np.ndarray, labels: np.ndarray, method: Method) -> tuple[list[float], list[float]]:
    """The parameters of ``method`` fitted to ``(score, relevant)`` pairs."""
    if len(set(labels.tolist())) < 2:
        raise UsageError("calibration needs both relevant and non-relevant hits among the results")
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e4).fit(scores.reshape(-1, 1), labels)
        return [float(lr.coef_[0][0])], [float(lr.intercept_[0])]
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, labels)
    return [float(x) for x in iso.X_thresholds_], [float(y) for y in iso.y_thresholds_]


def score_pairs(
    col: Collection,
    queries: Mapping[str, str],
    qrels: Qrels,
    space: str,
    options: RunOptions,
    progress: ProgressFactory | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per judged query, the scores of its top hits in ``space`` and whether each is
    relevant (unjudged hits count as not relevant, as in trec_eval)."""
    judged = {q: t for q, t in queries.items() if q in qrels}
    run = run_queries(col, judged, RunOptions(options.depth, space, options.base_dir), progress)
    out = {}
    for qid, docs in run.items():
        labels = [int(qrels[qid].get(doc, 0) > 0) for doc in docs]
        out[qid] = (np.array(list(docs.values()), dtype=np.float64), np.array(labels))
    return out


def _pooled(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], qids: Sequence[str]) -> tuple[
    np.ndarray, np.ndarray
]:
    chosen = [pairs[q] for q in qids if q in pairs]
    if not chosen:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.concatenate([c[0] for c in chosen]), np.concatenate([c[1] for c in chosen])


@dataclass(slots=True)
class CalibrationReport:
    calibrators: dict[str, Calibrator] = field(default_factory=dict)
    #: per space, the held-out queries' (probabilities, labels), for the reliability diagram
    heldout: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "spaces": {
                name: {k: v for k, v in asdict(c).items() if k not in ("xs", "ys")}
                for name, c in self.calibrators.items()
            }
        }


def _split(qids: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
    order = sorted(qids)
    random.Random(seed).shuffle(order)
    cut = max(1, round(len(order) * (1 - HELDOUT_SHARE)))
    return order[:cut], order[cut:]


def calibrate(
    col: Collection,
    queries: Mapping[str, str],
    qrels: Qrels,
    *,
    method: Method = "isotonic",
    spaces: Sequence[str] | None = None,
    options: RunOptions | None = None,
    seed: int = 0,
    progress: ProgressFactory | None = None,
) -> CalibrationReport:
    """Fit each space on half the judged queries, measure its expected calibration error on
    the other half, then fit it on all of them (the map that is kept)."""
    opts = options or RunOptions(depth=DEFAULT_DEPTH)
    judged = [q for q in queries if q in qrels]
    if len(judged) < 2:
        raise UsageError("calibration needs at least two queries with judgements")
    known = col.store.spaces()
    fit_ids, held_ids = _split(judged, seed)
    report = CalibrationReport()
    for name in spaces or sorted(known):
        if name not in known:
            raise UsageError(f"collection has no space {name!r}")
        pairs = score_pairs(col, queries, qrels, name, opts, progress)
        fs, fy = _pooled(pairs, fit_ids)
        held_s, held_y = _pooled(pairs, held_ids)
        ece = None
        if len(held_s) and len(set(fy.tolist())) == 2:
            xs, ys = fit(fs, fy, method)
            p = Calibrator(name, known[name].fingerprint, method, xs, ys).probability(held_s)
            ece = expected_calibration_error(p, held_y)
            report.heldout[name] = (p, held_y)
        s, y = _pooled(pairs, judged)
        xs, ys = fit(s, y, method)
        report.calibrators[name] = Calibrator(
            name, known[name].fingerprint, method, xs, ys, len(judged), len(s), ece
        )
    return report


def reliability_curves(
    col: Collection,
    queries: Mapping[str, str],
    qrels: Qrels,
    calibrators: Mapping[str, Calibrator],
    options: RunOptions,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per calibrated space, the stored map's probabilities for the top hits of ``queries``
    and whether each hit is relevant: the reliability diagram of an evaluation."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    judged = [q for q in queries if q in qrels]
    for name, calibrator in sorted(calibrators.items()):
        scores, labels = _pooled(score_pairs(col, queries, qrels, name, options), judged)
        if len(scores):
            out[name] = (calibrator.probability(scores), labels)
    return out


def save_calibration(root: Path, calibrators: Mapping[str, Calibrator]) -> Path:
    """Merge ``calibrators`` into the collection's calibration file (atomically)."""
    path = Path(root) / CALIBRATION_FILE
    stored = _read(path)
    for name, c in calibrators.items():
        stored[name] = asdict(c)
    atomic_write_text(path, json.dumps({"version": 1, "spaces": stored}, indent=1) + "\n")
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: unreadable calibration ({e}); run `xmodal calibrate`") from None
    spaces = raw.get("spaces") if isinstance(raw, dict) else None
    return dict(spaces) if isinstance(spaces, dict) else {}


def load_calibration(col: Collection) -> dict[str, Calibrator]:
    """The stored maps of ``col``'s spaces whose encoder is still the one fitted."""
    known = col.store.spaces()
    out: dict[str, Calibrator] = {}
    for name, raw in _read(col.root / CALIBRATION_FILE).items():
        rec = known.get(name)
        if rec is not None and raw.get("fingerprint") == rec.fingerprint:
            out[name] = Calibrator(**raw)
    return out


def relevance(hit: SearchHit, calibrators: Mapping[str, Calibrator]) -> float | None:
    """The hit's probability of relevance: the highest any calibrated space gives it; None
    when no space that ranked it is calibrated."""
    probs = [
        float(calibrators[s].probability(np.array([v]))[0])
        for s, v in hit.spaces.items()
        if s in calibrators
    ]
    return max(probs) if probs else None


def keep_relevant(
    hits: Sequence[SearchHit], calibrators: Mapping[str, Calibrator], min_relevance: float
) -> list[tuple[SearchHit, float]]:
    """The hits whose probability of relevance reaches ``min_relevance``, with it."""
    if not calibrators:
        raise UsageError(
            "this collection has no calibration for its spaces; run `xmodal calibrate`"
        )
    out = []
    for h in hits:
        p = relevance(h, calibrators)
        if p is not None and p >= min_relevance:
            out.append((h, p))
    return out
