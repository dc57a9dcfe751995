"""The main command's job and the shipped model it runs on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import xmodal
import xmodal.datasets.openmoji as om
from helpers import fake_openmoji
from xmodal.cli import main
from xmodal.encoders.registry import get_encoder, info
from xmodal.errors import UsageError
from xmodal.learn.encoder import EMOJI_SMALL, shipped_model_dir
from xmodal.learn.modeldir import read_model_dir


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_emoji_small_ships_small_with_its_recipe_and_attribution() -> None:
    folder = shipped_model_dir(EMOJI_SMALL)
    weights = folder / "model.safetensors"
    assert weights.stat().st_size <= 25 * 1024 * 1024
    config, arrays = read_model_dir(folder)
    assert config["method"] == "cnn-infonce" and arrays
    assert config["encoders"]["text"]["name"] == "e5-multilingual"
    assert config["training"]["command"].startswith("xmodal train")
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in readme and "xmodal train" in readme
    assert info(EMOJI_SMALL).available()[0]


def test_emoji_small_puts_chinese_and_english_words_together() -> None:
    enc = get_encoder(EMOJI_SMALL)
    assert enc.name == EMOJI_SMALL
    en = enc.encode_texts(["dog", "red heart", "airplane"], role="query")
    zh = enc.encode_texts(["狗", "红心", "飞机"], role="query")
    sims = zh @ en.T
    # each Chinese query is nearest to its English translation
    assert list(np.argmax(sims, axis=1)) == [0, 1, 2]
    pics = enc.encode_images([Image.new("RGB", (40, 40), c) for c in ("red", "blue")])
    assert pics.shape == (2, en.shape[1])
    assert np.allclose(np.linalg.norm(pics, axis=1), 1.0, atol=1e-4)
    with pytest.raises(UsageError):
        get_encoder(f"{EMOJI_SMALL}:extra")


def test_demo_finds_wordless_pictures_through_the_image_tower(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    extracted = fake_openmoji(tmp_path / "openmoji")
    monkeypatch.setattr(om, "fetch", lambda *a, **k: extracted)
    db, pics = tmp_path / "db", tmp_path / "pics"
    argv = ["demo", "--db", str(db), "--sample", str(pics), "-q", "-k", "3"]
    assert main([*argv, "--query", "a red circle", "--query", "红色的圆"]) == 0
    out = capsys.readouterr().out
    assert "> a red circle" in out and "> 红色的圆" in out and "> image:" in out
    # every picture is a numbered file with nothing beside it that names it
    names = sorted(p.name for p in pics.iterdir())
    assert names[-1] == "ATTRIBUTION.txt" and all(n[:4].isdigit() for n in names[:-1])
    with xmodal.Collection.open(db) as col:
        items = list(col)
        assert len(items) == 12 and all(not it.text.strip() for it in items)
        assert col.spaces() == [EMOJI_SMALL]
    hits = out.split("> a red circle")[1].split(">")[0]
    assert hits.count(".png") == 3 and "is: circle number" in hits
    assert (db / "demo-results.png").is_file()
