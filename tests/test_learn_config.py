"""Training configuration as grouped records and flat JSON; methods described as data;
progress reported to what the caller passes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import draw_image
from xmodal.errors import UsageError
from xmodal.learn.baselines import BASELINES, JOINT_BASELINES
from xmodal.learn.config import _GROUPS, DataConfig, RunConfig, TrainConfig
from xmodal.learn.encoder import EMOJI_SMALL, shipped_model_dir
from xmodal.learn.methods import FUSION_METHODS, METHODS, get_method
from xmodal.learn.train import train

#: ``training.config`` of a model directory written before the options were grouped
FLAT_CONFIG = """{
  "train_data": "om/train", "out": "m", "method": "cnn-triplet", "val_data": "om/val",
  "val_fraction": 0.1, "image_encoder": "classic", "text_encoder": "minilm",
  "text_field": "mixed", "extra_styles": ["twemoji"], "dim": 64, "head": "linear",
  "hidden": 256, "dropout": 0.2, "epochs": 12, "batch_size": 32, "lr": 0.003,
  "weight_decay": 0.0001, "warmup_epochs": 2, "temperature": 0.05,
  "learn_temperature": false, "margin": 0.3, "mining": "batch-hard", "attached_dropout": 0.25,
  "balance": true, "balance_power": 0.5, "image_size": 64, "cnn_width": 16,
  "cnn_blocks": 1, "pca_dims": null, "component_power": 2.0, "seed": 3, "resume": false,
  "patience": 4, "device": "cpu", "cache_dir": "/tmp/cache", "progress": false,
  "command": "xmodal train --method cnn-triplet", "text_align": 0.5, "init_from": "m0",
  "keep": "last"
}"""


def test_a_flat_json_config_loads_into_its_groups_and_writes_back_the_same() -> None:
    flat = json.loads(FLAT_CONFIG)
    config = TrainConfig.from_json(flat)
    config.validate()
    assert config.method == "cnn-triplet" and config.seed == 3
    assert config.data.extra_styles == ["twemoji"] and config.data.balance_power == 0.5
    assert config.model.dim == 64 and config.model.pca_dims is None
    assert config.loss.mining == "batch-hard" and config.loss.learn_temperature is False
    assert config.optim.lr == 0.003 and config.optim.patience == 4
    assert config.augment.attached_dropout == 0.25
    assert config.run.out == "m" and config.run.progress is False
    assert config.to_json() == flat
    assert TrainConfig.from_json(config.to_json()) == config


def test_the_shipped_model_config_still_loads() -> None:
    body = json.loads((shipped_model_dir(EMOJI_SMALL) / "config.json").read_text())
    saved = body["training"]["config"]
    config = TrainConfig.from_json(saved)
    config.validate()
    # options the model predates take their defaults; every saved one is kept
    assert {k: config.to_json()[k] for k in saved} == saved


def test_options_are_named_once_across_groups_and_unknown_ones_are_refused() -> None:
    names = Counter(name for cls in _GROUPS.values() for name in cls.__dataclass_fields__)
    assert max(names.values()) == 1 and not {"method", "seed"} & set(names)
    defaults = TrainConfig(data=DataConfig(train_data="x"), run=RunConfig(out="y"))
    assert TrainConfig.from_json({"train_data": "x", "out": "y"}) == defaults
    with pytest.raises(UsageError, match="unknown training option"):
        TrainConfig.from_json({"train_data": "x", "out": "y", "learning_rate": 1.0})
    with pytest.raises(TypeError):
        TrainConfig.from_json({"out": "y"})


def test_every_method_is_one_record_the_code_asks() -> None:
    baselines = [m for m in METHODS.values() if not m.neural]
    assert [m.name for m in baselines] == list(BASELINES)
    assert [m.name for m in baselines if m.joint] == list(JOINT_BASELINES)
    assert FUSION_METHODS == ("fusion-concat", "fusion-sum", "fusion-attention")
    for m in METHODS.values():
        assert (m.loss is not None) == m.neural
        assert not (m.needs_pixels and m.fusion)
    with pytest.raises(UsageError, match="unknown method"):
        get_method("heads-mse")


class _Recorder:
    def __init__(self, log: list[tuple[str, str, int, list[int]]], desc: str, unit: str) -> None:
        self.log, self.desc, self.unit = log, desc, unit

    def __call__(self, total: int) -> _Recorder:
        self.updates: list[int] = []
        self.log.append((self.desc, self.unit, total, self.updates))
        return self

    def update(self, n: int = 1) -> None:
        self.updates.append(n)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    rows = []
    for color, rgb in {"red": (220, 20, 20), "blue": (20, 40, 220), "green": (20, 160, 40)}.items():
        for shape in ("circle", "square"):
            draw_image(rgb, shape, 32).save(root / f"{color}_{shape}.png")
            rows.append(f"{color}_{shape}.png\ta {color} {shape}")
    (root / "pairs.tsv").write_text("\n".join(rows) + "\n")
    return root / "pairs.tsv"


@pytest.mark.parametrize("method", ["svd", "heads-infonce"])
def test_long_steps_report_to_the_progress_the_caller_passes(
    method: str, manifest: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    log: list[tuple[str, str, int, list[int]]] = []

    def bars(desc: str, unit: str) -> Any:
        return _Recorder(log, desc, unit)

    data = {"train_data": str(manifest), "val_data": str(manifest)}
    run = {"out": str(tmp_path / "m"), "cache_dir": str(tmp_path / "cache"), "progress": False}
    more = {"method": method, "dim": 4, "hidden": 8, "batch_size": 4, "epochs": 2}
    config = TrainConfig.from_json({**data, **run, **more})
    train(config, bars)
    steps = {desc: (unit, total, sum(updates)) for desc, unit, total, updates in log}
    assert steps["classic image features"] == ("item", 6, 6)
    assert steps["minilm text features"] == ("item", 6, 6)
    if method == "svd":
        assert steps["fitting svd"] == ("model", 1, 1)
    else:
        assert steps["epoch 1/2"] == ("batch", 2, 2) and "epoch 2/2" in steps
