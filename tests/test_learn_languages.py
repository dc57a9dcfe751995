"""Validation that reads the emojis' names in every language a run trains for, so the kept
epoch is the one best at all of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import draw_image
from xmodal.learn.data import PairedData, load_openmoji
from xmodal.learn.prepare import language_names
from xmodal.learn.train import TrainConfig, train
from xmodal.learn.validate import SCORE_METRIC, language_scores, score

COLORS = {"red": (220, 20, 20), "blue": (20, 40, 220), "green": (20, 160, 40)}
SHAPES = ("circle", "square", "triangle")
ZH = {
    "red": "红",
    "blue": "蓝",
    "green": "绿",
    "circle": "圆",
    "square": "方块",
    "triangle": "三角",
}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared OpenMoji folder in miniature: 9 drawings with English captions and tags,
    all but the last with a Chinese name."""
    root = tmp_path_factory.mktemp("om")
    (root / "images").mkdir()
    (root / "texts").mkdir()
    items = []
    for n, (color, shape) in enumerate((c, s) for c in COLORS for s in SHAPES):
        draw_image(COLORS[color], shape, 48).save(root / "images" / f"{n}.png")
        (root / "texts" / f"{n}.txt").write_text(f"{color} {shape}\n{color}, {shape}\n")
        item = {
            "hexcode": f"1F{0x600 + n:03X}",
            "concept": f"1F{0x600 + n:03X}",
            "annotation": f"{color} {shape}",
            "tags": [color, shape],
            "group": shape,
            "image": f"images/{n}.png",
            "text": f"texts/{n}.txt",
        }
        if n < 8:
            zh = f"{ZH[color]}{ZH[shape]}"
            item["names"] = {"zh": {"annotation": zh, "tags": [ZH[color], ZH[shape]]}}
        items.append(item)
    (root / "items.json").write_text(json.dumps(items, ensure_ascii=False))
    return root


def test_language_names_follow_the_pairs_and_leave_gaps_empty(folder: Path) -> None:
    data = load_openmoji(folder)
    names = language_names(data)
    assert sorted(names) == ["zh"]
    assert names["zh"][0] == "红圆" and names["zh"][-1] == ""
    sub = data.subset([4, 8])
    assert language_names(sub)["zh"] == ("蓝方块", "")


def test_the_score_is_the_mean_over_languages_and_picks_the_epoch() -> None:
    rng = np.random.default_rng(0)
    images = np.linalg.qr(rng.normal(size=(20, 20)))[0]
    data = _pairs(20)
    en = {"t2i_recall@10": 0.25, "t2i_mrr": 0.1}
    has = np.array([True] * 15 + [False] * 5)
    # names that point at their own drawings, then names that point away from them
    out = language_scores(images, en, {"zh": (images.copy(), has)}, data)
    assert out["t2i_recall@10_zh"] == 1.0 and out["t2i_mrr_zh"] == 1.0
    assert out[SCORE_METRIC] == pytest.approx((0.25 + 1.0) / 2)
    assert score(out) == (out[SCORE_METRIC], out["val_score_mrr"])
    # captions alone: the old selection metric
    assert score(en) == (0.25, 0.1)
    worse = language_scores(images, en, {"zh": (-images, has)}, data)
    assert worse["t2i_recall@10_zh"] == 0.0 and score(worse) < score(out)


def _pairs(n: int) -> PairedData:
    return PairedData(
        tuple(Path(f"{i}.png") for i in range(n)),
        tuple(f"t{i}" for i in range(n)),
        ("",) * n,
        tuple(f"c{i}" for i in range(n)),
        tuple(f"{i}" for i in range(n)),
    )


def test_training_on_mixed_texts_validates_every_language(folder: Path, tmp_path: Path) -> None:
    config = {
        "train_data": str(folder),
        "val_data": str(folder),
        "text_field": "mixed",
        "out": str(tmp_path / "model"),
        "dim": 16,
        "hidden": 32,
        "batch_size": 4,
        "epochs": 1,
        "cache_dir": str(tmp_path / "cache"),
        "progress": False,
        "pca_dims": 8,
    }
    result = train(TrainConfig.from_json(config))
    for h in result.history:
        assert 0.0 <= h["t2i_recall@10_zh"] <= 1.0
        assert h[SCORE_METRIC] == pytest.approx((h["t2i_recall@10"] + h["t2i_recall@10_zh"]) / 2)
    english = train(TrainConfig.from_json({**config, "text_field": "annotation"}))
    assert all(SCORE_METRIC not in h for h in english.history)
