"""Category retrieval over labelled recordings: mean average precision of "sounds like this"
(audio→audio) and of "the sound this word names" (text→audio, through a head trained with
``xmodal train``), each against what a random ranking scores.

A recording's label is its category (for Sonic Pi's samples, the first word of its file
name). Audio→audio: every recording queries all the others, and the recordings of its own
category are the relevant ones. Text→audio: the recordings are split by file into train,
validation and test (stratified by category, so every category is in the test split and no
test file is seen in training); a head over a sound encoder is trained against a text tower
on ``(recording, category words)`` pairs of the training files, and each category's words
then query the test files.

Chance is the expected average precision of a uniformly random ranking, exact for ``R``
relevant among ``N``: ``(H_N + (R - 1) / (N - 1) * (N - H_N)) / N``, with ``H_N`` the N-th
harmonic number; about the category's share of the ranked files.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.encoders.base import Encoder
from xmodal.errors import UsageError, XmodalError
from xmodal.eval.stats import bootstrap_ci, paired_test
from xmodal.progress import ProgressFactory, start_progress


@dataclass(frozen=True, slots=True)
class QueryAP:
    """One query's average precision, what a random ranking would score, and its category."""

    category: str
    ap: float
    chance: float


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Non-interpolated AP of ranking by ``scores`` (highest first); ties keep input order."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(relevant, dtype=bool)[order]
    total = int(hits.sum())
    if total == 0:
        raise ValueError("average precision needs at least one relevant item")
    ranks = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, total + 1) / ranks))


def random_ap(n: int, r: int) -> float:
    """The expected AP of a uniformly random ranking of ``n`` items, ``r`` of them relevant."""
    if not 1 <= r <= n:
        raise ValueError(f"need 1 <= relevant <= items, got {r} of {n}")
    if n == 1:
        return 1.0
    harmonic = float(np.sum(1.0 / np.arange(1, n + 1)))
    return (harmonic + (r - 1) / (n - 1) * (n - harmonic)) / n


def audio_to_audio(vectors: np.ndarray, labels: Sequence[str]) -> list[QueryAP]:
    """Each recording queries the rest by cosine; relevant: the others of its category.
    A recording alone in its category has nothing to find and asks nothing."""
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    lab = np.asarray(labels)
    sims = x @ x.T
    out: list[QueryAP] = []
    for q in range(len(lab)):
        rest = np.arange(len(lab)) != q
        relevant = lab[rest] == lab[q]
        if not relevant.any():
            continue
        out.append(QueryAP(str(lab[q]), average_precision(sims[q, rest], relevant),
                           random_ap(int(rest.sum()), int(relevant.sum()))))  # fmt: skip
    return out


def text_to_audio(
    model: Encoder, clips: Sequence[np.ndarray], labels: Sequence[str], words: Mapping[str, str]
) -> list[QueryAP]:
    """Each category's words query the recordings ``clips`` in ``model``'s joint space."""
    audio = model.encode_audio(list(clips))
    cats = sorted(set(labels))
    texts = model.encode_texts([words[c] for c in cats], role="query")
    lab = np.asarray(labels)
    out = []
    for c, t in zip(cats, texts, strict=True):
        relevant = lab == c
        out.append(QueryAP(c, average_precision(audio @ t, relevant),
                           random_ap(len(lab), int(relevant.sum()))))  # fmt: skip
    return out


def split_by_file(
    labels: Sequence[str], test_share: float = 0.3, val_share: float = 0.15, seed: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """Indices of train, validation and test files, drawn per category: every category with
    two or more files has at least one in test and one in train, and one in validation when
    it has four or more."""
    if not (0 < test_share < 1 and 0 <= val_share < 1 and test_share + val_share < 1):
        raise UsageError("test and validation shares must be in (0, 1) and sum under 1")
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for c in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == c]
        rng.shuffle(idx)
        if len(idx) < 2:
            train += idx
            continue
        n_test = min(len(idx) - 1, max(1, round(test_share * len(idx))))
        n_val = min(len(idx) - n_test - 1, max(1, round(val_share * len(idx))))
        n_val = n_val if len(idx) >= 4 else 0
        test += idx[:n_test]
        val += idx[n_test : n_test + n_val]
        train += idx[n_test + n_val :]
    return sorted(train), sorted(val), sorted(test)


def write_manifest(
    path: Path, files: Sequence[Path], labels: Sequence[str], words: Mapping[str, str]
) -> Path:
    """An ``audio_path<TAB>text<TAB>category`` manifest that ``xmodal train`` reads."""
    rows = ["audio_path\ttext\tcategory"]
    rows += [f"{os.path.abspath(f)}\t{words[c]}\t{c}" for f, c in zip(files, labels, strict=True)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def train_head(
    train: Path, val: Path, out: Path, *, sound: str, text: str, options: Sequence[str] = ()
) -> dict[str, Any]:
    """Run ``xmodal train`` (the command itself, in a child process) on the manifests;
    returns its JSON summary."""
    cmd = [sys.executable, "-m", "xmodal.cli", "train", "--data", str(train), "--val", str(val),
           "--image-encoder", sound, "--text-encoder", text, "--out", str(out), "--json",
           *options]  # fmt: skip
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise XmodalError(f"xmodal train failed: {tail[0]}")
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def embed_files(
    enc: Encoder, paths: Sequence[Path], progress: ProgressFactory | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each recording as an audio query reads it, and its vector in ``enc``."""
    from xmodal.learn.data import read_audio

    bar = start_progress(progress, len(paths))
    clips: list[np.ndarray] = []
    vecs: list[np.ndarray] = []
    try:
        for path in paths:
            clips.append(read_audio(path))
            vecs.append(enc.encode_audio([clips[-1]])[0])
            bar.update(1)
    finally:
        bar.close()
    return clips, np.stack(vecs)


def summarise(results: Sequence[QueryAP], seed: int = 0) -> dict[str, Any]:
    """mAP with its 95% bootstrap interval (queries resampled), chance, the gain over chance
    with its interval and sign-flip p-value, and each category's mean AP."""
    if not results:
        raise ValueError("no queries to summarise")
    ap = [r.ap for r in results]
    chance = [r.chance for r in results]
    est, lo, hi = bootstrap_ci(ap, seed=seed)
    gain = paired_test(chance, ap, seed=seed)
    per: dict[str, list[float]] = {}
    for r in results:
        per.setdefault(r.category, []).append(r.ap)
    per_chance: dict[str, float] = {}
    for r in results:
        per_chance.setdefault(r.category, r.chance)
    return {
        "queries": len(results),
        "map": round(est, 4),
        "map_ci95": [round(lo, 4), round(hi, 4)],
        "chance_map": round(float(np.mean(chance)), 4),
        "gain_over_chance": round(gain.mean_diff, 4),
        "gain_ci95": [round(gain.ci_low, 4), round(gain.ci_high, 4)],
        "gain_p_sign_flip": gain.p_value,
        "per_category": {
            c: {"ap": round(float(np.mean(v)), 4), "chance": round(per_chance[c], 4), "n": len(v)}
            for c, v in sorted(per.items())
        },
    }


def _trained_split(
    files: Sequence[Path],
    labels: Sequence[str],
    words: Mapping[str, str],
    folder: Path,
    seed: int,
    settings: Mapping[str, Any],
) -> tuple[list[int], Encoder, dict[str, Any]]:
    """Split by file, write the manifests, train; the test indices and the trained model."""
    from xmodal.encoders.registry import get_encoder

    train, val, test = split_by_file(labels, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    manifests = []
    for name, idx in (("train", train), ("val", val)):
        path = folder / f"{name}.tsv"
        write_manifest(path, [files[i] for i in idx], [labels[i] for i in idx], words)
        manifests.append(path)
    summary = train_head(
        manifests[0], manifests[1], folder / "model",
        sound=str(settings["sound"]), text=str(settings["text"]),
        options=[*settings.get("train_options", ()), "--seed", str(seed)],
    )  # fmt: skip
    return test, get_encoder(str(summary["model"])), summary


def run_categories(
    samples: Sequence[tuple[Path, str]],
    words: Mapping[str, str],
    work: Path,
    *,
    sound: str = "audio-classic",
    text: str = "minilm",
    splits: int = 1,
    train_options: Sequence[str] = (),
    progress: ProgressFactory | None = None,
) -> dict[str, Any]:
    """Both measurements on labelled recordings; ``splits`` train/test splits (seeds 0, 1,
    ...) are trained and scored, their text queries pooled. Models and manifests go under
    ``work``."""
    from xmodal.encoders.registry import get_encoder

    files = [p for p, _ in samples]
    labels = [c for _, c in samples]
    missing = sorted(set(labels) - set(words))
    if missing:
        raise UsageError(f"no query words for the categories {', '.join(missing)}")
    clips, vectors = embed_files(get_encoder(sound), files, progress)
    settings = {"sound": sound, "text": text, "train_options": tuple(train_options)}
    pooled: list[QueryAP] = []
    per_split: list[dict[str, Any]] = []
    for seed in range(splits):
        test, model, summary = _trained_split(
            files, labels, words, work / f"split{seed}", seed, settings
        )
        found = text_to_audio(model, [clips[i] for i in test], [labels[i] for i in test], words)
        pooled += found
        per_split.append({"seed": seed, "test_files": len(test),
                          "epochs_run": summary.get("epochs_run"),
                          "map": round(float(np.mean([q.ap for q in found])), 4)})  # fmt: skip
    return {
        "files": len(files),
        "categories": len(set(labels)),
        "sound_encoder": sound,
        "text_encoder": text,
        "audio_to_audio": summarise(audio_to_audio(vectors, labels)),
        "text_to_audio": summarise(pooled) | {"splits": per_split},
    }


def plot_categories(result: Mapping[str, Any], path: Path) -> Path:
    """Per-category AP of both measurements as bars, each with its chance level, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from xmodal.atomic import atomic_write_bytes

    parts = [("audio_to_audio", "audio → audio (each sample queries the rest)"),
             ("text_to_audio", "text → audio (category words, unseen test files)")]  # fmt: skip
    fig = Figure(figsize=(11, 7), dpi=100)
    FigureCanvasAgg(fig)
    for ax, (key, title) in zip(fig.subplots(2, 1), parts, strict=True):
        per = result[key]["per_category"]
        cats = list(per)
        xs = np.arange(len(cats))
        ax.bar(xs, [per[c]["ap"] for c in cats], color="#3b7dd8", label="AP")
        ax.scatter(xs, [per[c]["chance"] for c in cats], color="#d8453b", marker="_", s=300,
                   linewidths=2.5, zorder=3, label="random ranking")  # fmt: skip
        lo, hi = result[key]["map_ci95"]
        ax.set_title(f"{title}: mAP {result[key]['map']:.3f} ({lo:.3f}-{hi:.3f}), "
                     f"chance {result[key]['chance_map']:.3f}", fontsize=10)  # fmt: skip
        ax.set_xticks(xs, cats, rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("average precision")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
    return path
