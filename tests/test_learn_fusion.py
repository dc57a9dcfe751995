"""Fusion of an item's pixels with the text attached to it, training on several texts per
picture, and training on the same concepts drawn in another style."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import xmodal.datasets.openmoji as om
from helpers import fake_openmoji
from xmodal.learn.data import attached_texts, load_openmoji, prepare_openmoji_splits
from xmodal.learn.encoder import load_model
from xmodal.learn.models import FusionConfig, FusionTower, fusion_rows
from xmodal.learn.train import FUSION_METHODS, TrainConfig, train


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_openmoji(tmp_path_factory.mktemp("openmoji") / "extracted")


@pytest.fixture(scope="module")
def folders(extracted: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("om")
    return prepare_openmoji_splits(out, size=32, progress=False, extracted=extracted)


def _config(folders: dict[str, Path], out: Path, cache: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "train_data": str(folders["train"]),
        "val_data": str(folders["val"]),
        "out": str(out),
        "dim": 16,
        "hidden": 32,
        "batch_size": 4,
        "epochs": 2,
        "cache_dir": str(cache),
        "progress": False,
        "image_size": 32,
        "cnn_width": 8,
    }
    base.update(kw)
    return TrainConfig.from_json(base)


@pytest.mark.parametrize("kind", ["concat", "sum", "attention"])
def test_fusion_tower_reads_flat_rows_and_ignores_what_is_absent(kind: Any) -> None:
    torch.manual_seed(0)
    tower = FusionTower(FusionConfig((6, 4), 8, kind, hidden=16, dropout=0.0)).eval()
    x, a = np.random.default_rng(0).normal(size=(1, 3, 6)), np.random.default_rng(1)
    text = a.normal(size=(3, 4))
    present = np.array([[True, True], [True, False], [True, False]])
    rows = fusion_rows([x[0], text], present)
    assert rows.shape == (3, 6 + 4 + 2)
    out = tower(torch.from_numpy(rows))
    assert out.shape == (3, 8)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    # whatever sits in an absent slot, the fused vector is the same
    other = fusion_rows([x[0], a.normal(size=(3, 4)) * 50], present)
    assert torch.allclose(tower(torch.from_numpy(other))[1:], out[1:], atol=1e-5)
    # and a present text does change it
    hidden = fusion_rows([x[0], text], np.array([[True, False]] * 3))
    assert not torch.allclose(tower(torch.from_numpy(hidden))[0], out[0], atol=1e-4)


def test_attached_texts_are_the_tags(folders: dict[str, Path]) -> None:
    data = load_openmoji(folders["train"])
    tags = attached_texts(data)
    assert len(tags) == len(data)
    assert any(t == "" for t in tags) and any("colour" in t for t in tags)


@pytest.mark.parametrize("method", FUSION_METHODS)
def test_fusion_methods_train_save_load_and_embed(
    method: str, folders: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / method
    result = train(
        _config(folders, out, tmp_path / "cache", method=method, image_encoder="classic")
    )
    assert result.epochs_run == 2 and (out / "model.safetensors").is_file()
    model = load_model(out)
    data = load_openmoji(folders["test"])
    images = [Image.open(p).convert("RGB") for p in data.images]
    tags = attached_texts(data)
    alone = model.embed_images(images)
    fused = model.embed_items(images, tags)
    assert alone.shape == fused.shape == (len(data), 16)
    assert np.allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-4)
    has = np.array([bool(t) for t in tags])
    # items without attached text embed the same either way; the others take their text in
    assert np.allclose(alone[~has], fused[~has], atol=1e-5)
    assert not np.allclose(alone[has], fused[has], atol=1e-3)
    # the same again when told nothing is attached
    assert np.allclose(model.embed_items(images, [""] * len(images)), alone, atol=1e-5)


def test_mixed_text_views_and_extra_styles_add_training_pairs(
    folders: dict[str, Path], extracted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = load_openmoji(folders["train"], "mixed")
    # tags, the whole text, and the Chinese name and keywords
    assert len(data.views) == 4
    views = data.text_views()
    assert views[0] == data.texts and all(t for v in views for t in v)
    # tags that are empty fall back to the caption
    empty = [n for n, t in enumerate(data.views[0]) if not t]
    assert empty and all(views[1][n] == data.texts[n] for n in empty)

    monkeypatch.setattr(om, "fetch", lambda *a, **k: extracted)
    cfg = _config(
        folders,
        tmp_path / "cnn",
        tmp_path / "cache",
        method="cnn-infonce",
        text_field="mixed",
        extra_styles=["openmoji-black"],
        cnn_blocks=1,
    )
    result = train(cfg)
    body = json.loads((tmp_path / "cnn" / "config.json").read_text())
    assert body["training"]["train_pairs"] == 2 * len(data)
    assert body["arch"]["image"]["blocks"] == 1
    assert result.epochs_run == 2
    styles = tmp_path / "cache" / "styles" / "openmoji-black"
    assert len(list(styles.rglob("*.png"))) == len(data)


def test_extra_styles_need_an_openmoji_source(tmp_path: Path) -> None:
    from xmodal.errors import UsageError

    manifest = tmp_path / "m.tsv"
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    manifest.write_text("a.png\tsomething\n" * 4)
    cfg = TrainConfig.from_json(
        {
            "train_data": str(manifest),
            "val_data": str(manifest),
            "out": str(tmp_path / "o"),
            "extra_styles": ["twemoji"],
            "progress": False,
            "cache_dir": str(tmp_path / "c"),
        }
    )
    with pytest.raises(UsageError, match="OpenMoji folder"):
        train(cfg)
    with pytest.raises(UsageError, match="unknown extra style"):
        TrainConfig.from_json({"train_data": "x", "out": "y", "extra_styles": ["nope"]}).validate()
    # the plain comma list a command line gives without JSON brackets
    plain = TrainConfig.from_json({"train_data": "x", "out": "y", "extra_styles": "twemoji"})
    assert plain.data.extra_styles == ["twemoji"]


def test_late_fusion_fits_the_weight_that_helps_on_validation() -> None:
    from xmodal.learn.late_fusion import fit_weights, fuse_runs

    # space "a" ranks the answer first for q1 only, space "b" for q2 only; a third query
    # is answered by "b" alone, so leaning on "b" is best
    qrels = {"q1": {"x": 1}, "q2": {"y": 1}, "q3": {"z": 1}}
    a = {"q1": {"x": 0.9, "y": 0.1}, "q2": {"x": 0.9, "y": 0.5}, "q3": {"x": 0.8, "z": 0.1}}
    b = {"q1": {"x": 0.5, "y": 0.6}, "q2": {"y": 0.9, "x": 0.1}, "q3": {"z": 0.9, "x": 0.2}}
    weights, score = fit_weights({"a": a, "b": b}, qrels, "weighted", metric="mrr")
    assert weights["a"] + weights["b"] == pytest.approx(1.0)
    assert weights["b"] > weights["a"] and score > 0.8
    fused = fuse_runs({"a": a, "b": b}, weights, "weighted")
    assert next(iter(sorted(fused["q3"], key=lambda d: -fused["q3"][d]))) == "z"
    # scores strictly decrease, so trec_eval's tie-break cannot reorder a fused list
    assert all(len(set(r.values())) == len(r) for r in fused.values())
    # RRF ignores score scales: the same fit on ranks alone
    w_rrf, _ = fit_weights({"a": a, "b": b}, qrels, "rrf")
    assert w_rrf["b"] >= 0.5
    with pytest.raises(ValueError):
        fit_weights({"a": a}, qrels)
