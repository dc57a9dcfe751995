"""Text->image recall of a saved model (``trained:DIR`` or a shipped name) on the test concepts
drawn by Twemoji, Noto and OpenMoji's line art, from the arrays ``export.py`` writes:

    python benchmarks/cnn_recipe/evaluate.py src/xmodal/models/emoji-small --arrays om.npz
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from PIL import Image

from xmodal.learn.encoder import load_model


def recall(img: np.ndarray, txt: np.ndarray, concepts: np.ndarray) -> dict[str, float]:
    """One query per concept; its relevant drawings are that concept's."""
    _, first = np.unique(concepts, return_index=True)
    order = np.argsort(-(txt[first] @ img.T), axis=1)
    rank = (concepts[order] == concepts[first][:, None]).argmax(1)
    out = {f"r{k}": (rank < k).mean() for k in (1, 5, 10)} | {"mrr": (1 / (rank + 1)).mean()}
    return {k: round(float(v), 4) for k, v in out.items()} | {"queries": len(first)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="a model directory")
    ap.add_argument("--arrays", default="om.npz")
    a = ap.parse_args()
    m = load_model(a.model)
    d = np.load(a.arrays)
    txt = m.embed_text_features(d["y_test"])
    out = {}
    for style in ("tw", "noto", "bk"):
        rows = d[f"{style}_rows"]
        img = m.embed_images([Image.fromarray(p) for p in d[f"{style}96"]])
        out[style] = recall(img, txt[rows], d["c_test"][rows])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
