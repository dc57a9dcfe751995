"""CLAP through the real loading path: a tiny random model saved as a user's folder would be,
loaded by ``clap:DIR``, embedding words and sounds into one space; missing weights fail loud."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("soxr")
transformers = pytest.importorskip("transformers")

from xmodal.encoders.registry import get_encoder  # noqa: E402
from xmodal.errors import XmodalError  # noqa: E402


def _tiny_clap(folder: Path) -> Path:
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
        RobertaTokenizer,
    )

    words = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "dog", "Ġbark", "Ġcat", "d", "o", "g"]
    (folder / "vocab.json").write_text(json.dumps({w: n for n, w in enumerate(words)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    text = ClapTextConfig(
        vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=40, projection_dim=8,
    )
    audio = ClapAudioConfig(
        hidden_size=16, patch_embeds_hidden_size=8, depths=[1, 1], num_attention_heads=[1, 2],
        window_size=8, spec_size=256, num_mel_bins=64, projection_dim=8, enable_fusion=True,
    )
    config = ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=8)
    model_dir = folder / "model"
    ClapModel(config).eval().save_pretrained(model_dir)
    fe = ClapFeatureExtractor(feature_size=64)
    ClapProcessor(feature_extractor=fe, tokenizer=tok).save_pretrained(model_dir)
    return model_dir


def test_clap_folder_embeds_words_and_sounds(tmp_path: Path) -> None:
    model_dir = _tiny_clap(tmp_path)
    enc = get_encoder(f"clap:{model_dir}")
    assert enc.spec.dim == 8 and enc.spec.name == f"clap:{model_dir.absolute()}"
    t = enc.encode_texts(["dog bark", "cat"])
    a = enc.encode_audio([np.zeros(16_000, np.float32), np.ones(8_000, np.float32) * 0.1])
    assert t.shape == (2, 8) and a.shape == (2, 8)
    assert np.allclose(np.linalg.norm(np.vstack([t, a]), axis=1), 1.0, atol=1e-4)


def test_missing_clap_weights_exit_2_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(XmodalError, match="huggingface-cli download"):
        get_encoder("clap:nobody/no-such-clap")
    run = subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "index", str(tmp_path), "--db", str(tmp_path / "db"),
         "--model", "clap:nobody/no-such-clap"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2 and "clap:/path/to/model" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
