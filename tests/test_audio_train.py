"""`xmodal train` on (audio, text) pairs: heads over ``audio-classic`` trained against a text
tower from an ``audio_path<TAB>text<TAB>category`` manifest; the model indexes recordings and
a text query finds the sound it names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from awkward import noise, tone  # noqa: E402
from xmodal import Collection  # noqa: E402
from xmodal.learn.data import image_features, load_manifest  # noqa: E402

RATE = 16_000


def _sound(kind: str, n: int) -> np.ndarray:
    if kind == "beep":
        return tone(1.5, 1800 + 60 * n)
    if kind == "hum":
        return tone(1.5, 90 + 8 * n)
    return noise(1.5, seed=n, level=0.2)


SOUNDS = {"beep": "a high beep", "hum": "a low hum", "hiss": "the hiss of static"}


def _manifest(root: Path, name: str = "pairs.tsv", takes: range = range(6)) -> Path:
    rows = ["audio_path\ttext\tcategory"]
    (root / "sounds").mkdir(parents=True, exist_ok=True)
    for kind, text in SOUNDS.items():
        for n in takes:
            rel = f"sounds/{kind}_{n}.wav"
            sf.write(root / rel, _sound(kind, n), RATE)
            rows.append(f"{rel}\t{text}\t{kind}")
    (root / name).write_text("\n".join(rows) + "\n")
    return root / name


def test_audio_features_come_from_the_sound_encoder(tmp_path: Path) -> None:
    from xmodal.encoders.registry import get_encoder

    data = load_manifest(_manifest(tmp_path))
    assert len(data) == 18 and data.groups[0] == "beep"
    x = image_features(data, get_encoder("audio-classic"), tmp_path / "cache")
    assert x.shape[0] == 18 and np.all(np.isfinite(x))
    # same kind of sound, nearer than another kind
    assert x[0] @ x[1] > x[0] @ x[6] and x[6] @ x[7] > x[6] @ x[12]


def test_train_on_audio_pairs_then_find_a_sound_by_text(tmp_path: Path) -> None:
    # validation holds out whole concepts (texts), so it gets takes of the same three sounds
    manifest = _manifest(tmp_path, "train.tsv", range(4))
    val = _manifest(tmp_path, "val.tsv", range(4, 6))
    out = tmp_path / "model"
    done = subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "train", "--data", str(manifest),
         "--method", "heads-infonce", "--image-encoder", "audio-classic", "--out", str(out),
         "--val", str(val), "--epochs", "20", "--dim", "16", "--batch-size", "6",
         "--set", f"cache_dir={tmp_path / 'cache'}", "--json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    config = json.loads((out / "config.json").read_text())
    assert config["encoders"]["image"]["name"] == "audio-classic"
    with Collection.open(tmp_path / "db") as col:
        report = col.index([tmp_path / "sounds"], models=[summary["model"]])
        assert report.added == 18 and not report.skipped
        for kind, text in SOUNDS.items():
            hits = col.search(text, k=3)
            assert hits[0].modality == "audio" and hits[0].start is not None
            assert Path(hits[0].path).name.startswith(kind), (text, [h.path for h in hits])
    bad = subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "train", "--data", str(manifest),
         "--image-encoder", "bm25", "--out", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
