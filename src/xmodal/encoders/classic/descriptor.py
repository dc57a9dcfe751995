"""The ``classic`` global descriptor: three parts, each normalised on its own and then
weighted, so that no part drowns the others:

- a joint histogram in CIELAB (perceptually even colour distances), square-rooted so that the
  dot product of two histograms is their Hellinger affinity;
- a HOG descriptor of the grey image (edges and shapes, insensitive to colour);
- a DCT perceptual hash as +-1 bits (near-duplicates agree on almost every bit).
"""

from __future__ import annotations

from typing import Any

import imagehash
import numpy as np
from PIL import Image
from skimage.color import rgb2lab
from skimage.feature import hog

from xmodal.encoders.base import EncoderSpec
from xmodal.encoders.classic.encoder import PerImageEncoder
from xmodal.records import Modality

_L_BINS, _A_BINS, _B_BINS = 4, 6, 6
_COLOR_SIZE = 64
_HOG_SIZE = 64
_HOG_CELL = 16
_HOG_ORIENT = 9
_HASH_SIZE = 8
_WEIGHTS = {"color": 1.0, "hog": 1.0, "phash": 0.5}

#: every part works on 64 px or less; a little headroom keeps the downscale smooth
DECODE_SIDE = 160

PREPROCESSING: dict[str, Any] = {
    "decode_max_side": DECODE_SIDE,
    "color": {"space": "lab", "bins": [_L_BINS, _A_BINS, _B_BINS], "size": _COLOR_SIZE},
    "hog": {"size": _HOG_SIZE, "cell": _HOG_CELL, "orientations": _HOG_ORIENT, "block": 2},
    "phash": {"hash_size": _HASH_SIZE},
    "weights": _WEIGHTS,
    "resample": "bilinear",
}

_HOG_DIM = ((_HOG_SIZE // _HOG_CELL) - 1) ** 2 * 4 * _HOG_ORIENT
#: length of the descriptor
DIM = _L_BINS * _A_BINS * _B_BINS + _HOG_DIM + _HASH_SIZE * _HASH_SIZE


def _color_part(img: Image.Image) -> np.ndarray:
    small = np.asarray(img.resize((_COLOR_SIZE, _COLOR_SIZE), Image.Resampling.BILINEAR))
    lab = rgb2lab(small).reshape(-1, 3)
    hist, _ = np.histogramdd(
        lab,
        bins=(_L_BINS, _A_BINS, _B_BINS),
        range=((0.0, 100.0), (-100.0, 100.0), (-100.0, 100.0)),
    )
    return np.sqrt(hist.ravel() / max(hist.sum(), 1.0))


def _hog_part(img: Image.Image) -> np.ndarray:
    grey = np.asarray(img.convert("L").resize((_HOG_SIZE, _HOG_SIZE), Image.Resampling.BILINEAR))
    feat = hog(
        grey,
        orientations=_HOG_ORIENT,
        pixels_per_cell=(_HOG_CELL, _HOG_CELL),
        cells_per_block=(2, 2),
        block_norm="L2-Hys",
        feature_vector=True,
    )
    return np.asarray(feat, dtype=np.float64)


def _phash_part(img: Image.Image) -> np.ndarray:
    bits = imagehash.phash(img, hash_size=_HASH_SIZE).hash.ravel()
    return np.where(bits, 1.0, -1.0)


def describe(img: Image.Image) -> np.ndarray:
    """The unnormalised-per-image descriptor of one RGB image."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    parts = []
    for name, part in (
        ("color", _color_part(rgb)),
        ("hog", _hog_part(rgb)),
        ("phash", _phash_part(rgb)),
    ):
        norm = np.linalg.norm(part)
        parts.append(_WEIGHTS[name] * (part / norm if norm > 0 else part))
    return np.concatenate(parts).astype(np.float32)


class ClassicEncoder(PerImageEncoder):
    batch_size = 64
    input_side = DECODE_SIDE

    def __init__(self) -> None:
        super().__init__(
            EncoderSpec(
                name="classic",
                weights="none",
                dim=DIM,
                modalities=frozenset({Modality.IMAGE}),
                preprocessing=PREPROCESSING,
            )
        )

    def vector(self, img: Image.Image) -> np.ndarray:
        return describe(img)
