"""Training end to end on a handful of generated pictures: model directories, checkpoints and
resumption, feature caching, and the ``trained:DIR`` encoder inside a collection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import xmodal
import xmodal.learn.loop as loop
from helpers import draw_image
from xmodal.encoders.base import l2_normalize
from xmodal.encoders.classic import ClassicEncoder
from xmodal.errors import EncoderMismatchError, UsageError, XmodalError
from xmodal.learn._io import load_numpy_safetensors
from xmodal.learn.data import image_features, load_manifest, prepare_openmoji_splits
from xmodal.learn.encoder import TRAINED_INFO, load_model, make_trained
from xmodal.learn.modeldir import read_model_dir, weights_tag, write_model_dir
from xmodal.learn.models import HeadConfig, JointModel
from xmodal.learn.train import TrainConfig, evaluate_model, train
from xmodal.records import Modality

COLORS = {
    "red": (220, 20, 20),
    "blue": (20, 40, 220),
    "green": (20, 160, 40),
    "yellow": (230, 220, 20),
    "purple": (140, 30, 160),
    "black": (10, 10, 10),
}
SHAPES = ("circle", "square", "triangle")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """18 drawings (6 colours x 3 shapes) and a manifest captioning each, shape as category."""
    root = tmp_path_factory.mktemp("pairs")
    rows = ["image_path\ttext\tcategory"]
    (root / "pics").mkdir()
    for color, rgb in COLORS.items():
        for shape in SHAPES:
            draw_image(rgb, shape, 64).save(root / "pics" / f"{color}_{shape}.png")
            rows.append(f"pics/{color}_{shape}.png\ta {color} {shape}\t{shape}")
    (root / "pairs.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")


def _config(pairs: Path, cache: Path, out: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "train_data": str(pairs / "pairs.tsv"),
        "val_data": str(pairs / "pairs.tsv"),
        "out": str(out),
        "dim": 16,
        "hidden": 64,
        "batch_size": 8,
        "epochs": 3,
        "lr": 3e-3,
        "cache_dir": str(cache),
        "progress": False,
        "pca_dims": 8,
        "image_size": 32,
        "cnn_width": 8,
    }
    base.update(kw)
    return TrainConfig.from_json(base)


@pytest.fixture(scope="module")
def heads_model(pairs: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "heads"
    train(_config(pairs, cache, out, epochs=3, command="xmodal train ..."))
    return out


@pytest.fixture(scope="module")
def svd_model(pairs: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "svd"
    train(_config(pairs, cache, out, method="svd", dim=12))
    return out


def _images(pairs: Path) -> list[Image.Image]:
    return [Image.open(p).convert("RGB") for p in sorted((pairs / "pics").glob("*.png"))]


# -- the model directory -------------------------------------------------------------------


def test_training_writes_a_complete_model_directory(heads_model: Path) -> None:
    config, arrays = read_model_dir(heads_model)
    assert config["method"] == "heads-infonce" and config["dim"] == 16
    assert config["encoders"]["image"]["name"] == "classic"
    assert config["encoders"]["text"]["name"] == "minilm"
    assert config["encoders"]["image"]["fingerprint"] == ClassicEncoder().spec.fingerprint()
    assert config["preprocessing"]["text_role"] == "query"
    assert config["training"]["config"]["epochs"] == 3
    assert config["training"]["command"] == "xmodal train ..."
    assert "t2i_recall@10" in config["metrics"]["val"]
    history = config["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]
    assert history[0]["loss"] is None and history[1]["loss"] > 0
    assert all(a.dtype == np.float32 for a in arrays.values())
    assert arrays["temperature.logit_scale"].shape == ()
    png = (heads_model / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert (heads_model / "checkpoint" / "state.json").is_file()


def test_save_load_round_trip_gives_identical_embeddings(tmp_path: Path) -> None:
    torch.manual_seed(0)
    arch = {
        "image": HeadConfig(12, 6, "mlp", 16, 0.2).to_json(),
        "text": HeadConfig(9, 6, "linear").to_json(),
    }
    net = JointModel(arch).eval()
    arrays = {k: v.numpy() for k, v in net.state_dict().items()}
    config = {"method": "heads-infonce", "dim": 6, "joint": True, "arch": arch, "encoders": {}}
    write_model_dir(tmp_path / "m", arrays, config)
    loaded = load_model(tmp_path / "m", check_encoders=False)
    x = np.random.default_rng(0).standard_normal((5, 12)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((5, 9)).astype(np.float32)
    with torch.no_grad():
        want_i = net.encode_image(torch.from_numpy(x)).numpy()
        want_t = net.encode_text(torch.from_numpy(y)).numpy()
    # the encoder re-normalises in float32 as every encoder does; the weights are the same
    np.testing.assert_array_equal(loaded.embed_image_features(x), l2_normalize(want_i))
    np.testing.assert_array_equal(loaded.embed_text_features(y), l2_normalize(want_t))
    again = load_model(tmp_path / "m", check_encoders=False)
    np.testing.assert_array_equal(again.embed_image_features(x), loaded.embed_image_features(x))


def test_loaded_model_embeds_images_through_its_frozen_encoder(
    heads_model: Path, pairs: Path
) -> None:
    model = load_model(heads_model)
    images = _images(pairs)[:4]
    direct = model.embed_images(images)
    via_features = model.embed_image_features(ClassicEncoder().encode_images(images))
    np.testing.assert_array_equal(direct, via_features)
    metrics = evaluate_model(heads_model, pairs / "pairs.tsv")
    assert 0.0 <= metrics["t2i_recall@1"] <= metrics["t2i_recall@10"] <= 1.0


# -- checkpoints ---------------------------------------------------------------------------


def test_resume_continues_as_if_never_interrupted(
    pairs: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {"epochs": 4, "patience": 10, "dropout": 0.2}
    whole = train(_config(pairs, cache, tmp_path / "whole", **settings))

    real_save = loop.save_checkpoint
    saved: list[int] = []

    def save_then_crash(*args: Any, **kwargs: Any) -> None:
        real_save(*args, **kwargs)
        saved.append(1)
        if len(saved) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(_config(pairs, cache, tmp_path / "split", **settings))
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    state = json.loads((tmp_path / "split" / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2

    resumed = train(_config(pairs, cache, tmp_path / "split", resume=True, **settings))
    assert resumed.notes == ["resumed after epoch 2"]
    assert resumed.epochs_run == whole.epochs_run == 4
    for name in ("checkpoint/weights.safetensors", "model.safetensors"):
        a = load_numpy_safetensors(tmp_path / "whole" / name)
        b = load_numpy_safetensors(tmp_path / "split" / name)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-6)
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in whole.history])

    with pytest.raises(UsageError, match="other settings"):
        train(_config(pairs, cache, tmp_path / "split", resume=True, **{**settings, "lr": 0.1}))
    with pytest.raises(UsageError, match="nothing to resume"):
        train(_config(pairs, cache, tmp_path / "nothing", resume=True))


def test_early_stopping_keeps_the_best_epoch(pairs: Path, cache: Path, tmp_path: Path) -> None:
    result = train(_config(pairs, cache, tmp_path / "m", epochs=30, patience=2, lr=3e-2))
    assert result.stopped_early
    assert result.epochs_run == result.best_epoch + 2
    config, _ = read_model_dir(tmp_path / "m")
    assert config["best_epoch"] == result.best_epoch
    assert len(config["history"]) == result.epochs_run + 1


def test_balanced_training_reports_its_effect(pairs: Path, cache: Path, tmp_path: Path) -> None:
    result = train(_config(pairs, cache, tmp_path / "m", epochs=1, balance=True))
    assert result.balance is not None and result.balance["categories"] == 3
    assert "sampled" in result.balance


def test_cnn_tower_trains_and_reads_pixels(pairs: Path, cache: Path, tmp_path: Path) -> None:
    result = train(_config(pairs, cache, tmp_path / "cnn", method="cnn-infonce", epochs=1))
    model = load_model(result.out)
    assert model.pixels and model.image_encoder is None
    emb = model.embed_images(_images(pairs)[:3])
    assert emb.shape == (3, 16) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("method", ["cca", "pls", "nmf", "pca", "lda"])
def test_baselines_train_into_the_same_format(
    method: str, pairs: Path, cache: Path, tmp_path: Path
) -> None:
    dim = 2 if method == "lda" else 6
    result = train(_config(pairs, cache, tmp_path / method, method=method, dim=dim))
    model = load_model(result.out)
    assert model.method == method and model.dim == dim
    emb = model.embed_images(_images(pairs)[:2])
    assert emb.shape == (2, dim)
    if method in ("pca", "lda"):
        assert not model.joint and result.metrics == {}
    else:
        assert "t2i_recall@10" in result.metrics
        assert model.embed_texts(["a red circle"]).shape == (1, dim)


def test_feature_cache_is_reused_until_a_file_changes(pairs: Path, tmp_path: Path) -> None:
    calls: list[int] = []

    class Counting(ClassicEncoder):
        def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
            calls.append(len(images))
            return super().encode_images(images)

    data = load_manifest(pairs / "pairs.tsv").subset(range(4))
    enc = Counting()
    first = image_features(data, enc, tmp_path)
    second = image_features(data, enc, tmp_path)
    assert sum(calls) == 4
    np.testing.assert_array_equal(first, second)
    draw_image((1, 2, 3), "circle", 64).save(data.images[0])
    try:
        third = image_features(data, enc, tmp_path)
        assert sum(calls) == 8 and not np.array_equal(third[0], first[0])
    finally:
        name = data.images[0].stem.split("_")
        draw_image(COLORS[name[0]], name[1], 64).save(data.images[0])


# -- the trained:DIR encoder ---------------------------------------------------------------


def test_trained_encoder_conformance(heads_model: Path, pairs: Path) -> None:
    enc = make_trained(str(heads_model))
    spec = enc.spec
    assert spec.name == f"trained:{heads_model}"
    assert spec.dim == 16 and spec.modalities == frozenset({Modality.IMAGE, Modality.TEXT})
    assert spec.weights == weights_tag(heads_model)
    # pictures are decoded for it as for the frozen encoder it was trained over
    assert getattr(enc, "input_side", None) == getattr(ClassicEncoder(), "input_side", None)
    assert TRAINED_INFO.family == "trained"
    images = _images(pairs)[:5]
    a = enc.encode_images(images)
    b = enc.encode_images(images)
    assert a.shape == (5, 16) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)
    one = enc.encode_images(images[:1])
    np.testing.assert_allclose(one[0], a[0], atol=1e-6)
    t = enc.encode_texts(["a red circle", "a blue square"], role="query")
    assert t.shape == (2, 16) and t.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(t, enc.encode_texts(["a red circle", "a blue square"], "query"))
    assert enc.encode_images([]).shape == (0, 16)


def test_image_only_models_make_an_image_space(pairs: Path, cache: Path, tmp_path: Path) -> None:
    train(_config(pairs, cache, tmp_path / "pca", method="pca", dim=4))
    enc = make_trained(str(tmp_path / "pca"))
    assert enc.spec.modalities == frozenset({Modality.IMAGE})
    with pytest.raises(NotImplementedError):
        enc.encode_texts(["a red circle"])


def test_trained_encoder_refuses_bad_directories(heads_model: Path, tmp_path: Path) -> None:
    with pytest.raises(XmodalError, match="not a trained model directory"):
        make_trained(str(tmp_path / "missing"))
    with pytest.raises(UsageError):
        make_trained(None)
    changed = tmp_path / "changed"
    changed.mkdir()
    for name in ("model.safetensors", "config.json"):
        (changed / name).write_bytes((heads_model / name).read_bytes())
    cfg = json.loads((changed / "config.json").read_text())
    cfg["encoders"]["image"]["fingerprint"] = "something else"
    (changed / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(EncoderMismatchError, match="changed since"):
        make_trained(str(changed))
    (changed / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(XmodalError):
        load_model(changed, check_encoders=False)


def test_text_finds_images_through_a_trained_space_in_a_collection(
    svd_model: Path, pairs: Path, tmp_path: Path
) -> None:
    name = f"trained:{svd_model}"
    with xmodal.Collection.open(tmp_path / "db") as col:
        report = col.index([pairs / "pics"], models=[name])
        assert report.added == 18
        assert col.spaces() == [name]
        hits = col.search("a red circle", k=3, model=name)
        assert Path(hits[0].path).name == "red_circle.png"
        hits = col.search("a blue square", k=3)
        assert Path(hits[0].path).name == "blue_square.png"


def test_prepare_openmoji_splits_feeds_the_loader(tmp_path: Path) -> None:
    extracted = tmp_path / "extracted"
    (extracted / "data").mkdir(parents=True)
    (extracted / "color" / "svg").mkdir(parents=True)
    entries = []
    for n in range(20):
        hexcode = f"1F{0x600 + n:03X}"
        entries.append(
            {
                "emoji": "?",
                "hexcode": hexcode,
                "group": ("smileys-emotion", "animals-nature")[n % 2],
                "subgroups": "face",
                "annotation": f"thing {n}",
                "tags": "a, b",
                "openmoji_tags": "",
                "skintone": "",
                "skintone_base_hexcode": "",
            }
        )
        svg = (
            '<svg viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">'
            f'<circle cx="36" cy="36" r="{10 + n}" fill="#{n * 12:02x}4080"/></svg>'
        )
        (extracted / "color" / "svg" / f"{hexcode}.svg").write_text(svg)
    (extracted / "data" / "openmoji.json").write_text(json.dumps(entries))
    folders = prepare_openmoji_splits(tmp_path / "om", size=24, progress=False, extracted=extracted)
    assert sorted(folders) == ["test", "train", "val"]
    from xmodal.learn.data import load_openmoji

    seen: set[str] = set()
    for split, folder in folders.items():
        data = load_openmoji(folder)
        assert len(data) > 0 and all(p.is_file() for p in data.images)
        assert not seen & set(data.texts), split
        seen |= set(data.texts)
    assert len(seen) == 20


def test_training_can_start_from_an_earlier_model(
    heads_model: Path, pairs: Path, cache: Path, tmp_path: Path
) -> None:
    first = read_model_dir(heads_model)[0]
    result = train(_config(pairs, cache, tmp_path / "more", epochs=1, init_from=str(heads_model)))
    # epoch 0 is the earlier model itself, not a random one
    start = {k: v for k, v in result.history[0].items() if k.startswith("t2i")}
    assert start == {k: v for k, v in first["metrics"]["val"].items() if k.startswith("t2i")}
    with pytest.raises(UsageError, match="architecture"):
        train(_config(pairs, cache, tmp_path / "bad", dim=12, init_from=str(heads_model)))


def test_keep_last_writes_the_final_epochs_weights(
    pairs: Path, cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "last"
    train(_config(pairs, cache, out, epochs=2, keep="last"))
    config, arrays = read_model_dir(out)
    assert config["best_epoch"] == 2 and config["metrics"]["val"] == {
        k: v for k, v in config["history"][-1].items() if k not in ("epoch", "loss", "temperature")
    }
    final = load_numpy_safetensors(out / "checkpoint" / "weights.safetensors")
    assert sorted(final) == sorted(arrays)
    assert all(np.array_equal(final[k], arrays[k]) for k in arrays)
    with pytest.raises(UsageError, match="keep"):
        _config(pairs, cache, out, keep="worst").validate()
