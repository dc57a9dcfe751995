"""`xmodal train` end to end: a manifest in, a model directory out that indexes and searches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import draw_image
from xmodal import Collection

COLOURS = {
    "red": (220, 20, 20),
    "green": (20, 180, 20),
    "blue": (20, 20, 220),
    "yellow": (230, 220, 20),
}


def test_train_from_a_manifest_then_search(tmp_path: Path) -> None:
    rows = ["image_path\ttext"]
    for colour, rgb in COLOURS.items():
        for shape in ("circle", "square", "triangle"):
            for n in range(2):
                path = tmp_path / "imgs" / f"{colour}-{shape}-{n}.png"
                path.parent.mkdir(exist_ok=True)
                jitter = tuple(max(0, min(255, c + 9 * n)) for c in rgb)
                draw_image(jitter, shape).save(path)  # type: ignore[arg-type]
                rows.append(f"imgs/{path.name}\ta {colour} {shape}")
    manifest = tmp_path / "pairs.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "model"
    done = subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "train", "--data", str(manifest),
         "--method", "heads-infonce", "--out", str(out), "--epochs", "3", "--dim", "16",
         "--batch-size", "8", "--set", "val_fraction=0.25", "--json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["model"] == f"trained:{out}" and summary["epochs_run"] >= 1
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()

    col = Collection.open(tmp_path / "db")
    col.index([tmp_path / "imgs"], models=[summary["model"]])
    hits = col.search("a red circle", k=3)
    assert len(hits) == 3 and all(h.modality == "image" for h in hits)

    bad = subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "train", "--data", str(manifest),
         "--method", "nope", "--out", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
