"""Classical image descriptors: no pretrained weights, optionally a small fitted model.

``classic``: colour histogram, HOG and perceptual hash in one vector (``descriptor``).
``classic:bovw@PATH``: a bag of visual words over ORB keypoints (``bovw``).
``classic:pca@PATH``: the ``classic`` descriptor projected onto its principal axes (``pca``).

The fitted variants read a model fitted on a sample of images (``fit_bovw``, ``fit_pca``,
``fit_from_folder``), stored as a numbers-only ``.npz`` (``modelfile``). The space's weights
tag is a hash of the model's numbers, so vectors from a refitted model never share a space
with older ones.
"""

from __future__ import annotations

import os

from xmodal.encoders.base import Encoder
from xmodal.encoders.classic.bovw import BovwEncoder, BovwModel, fit_bovw, orb_descriptors
from xmodal.encoders.classic.descriptor import DECODE_SIDE, DIM, ClassicEncoder, describe
from xmodal.encoders.classic.fit import fit_from_folder
from xmodal.encoders.classic.modelfile import KIND_CODES, ModelKind, how_to_make
from xmodal.encoders.classic.pca import PcaEncoder, PcaModel, fit_pca
from xmodal.encoders.registry import EncoderInfo, register
from xmodal.errors import UsageError
from xmodal.records import Modality

__all__ = [
    "DECODE_SIDE",
    "BovwEncoder",
    "BovwModel",
    "ClassicEncoder",
    "Encoder",
    "ModelKind",
    "PcaEncoder",
    "PcaModel",
    "describe",
    "fit_bovw",
    "fit_from_folder",
    "fit_pca",
    "orb_descriptors",
]


def _available() -> tuple[bool, str]:
    return True, "built in; classic:bovw@PATH and classic:pca@PATH need a fitted model file"


@register(
    EncoderInfo(
        family="classic",
        description=(
            "colour histogram (CIELAB) + HOG + perceptual hash; image to image. "
            "Fitted variants: classic:bovw@PATH (ORB bag of visual words, tf-idf), "
            "classic:pca@PATH (PCA-compressed); make PATH with `xmodal models fit`"
        ),
        modalities=frozenset({Modality.IMAGE}),
        dim=DIM,
        languages=(),
        size="0 MB (no weights)",
        available=_available,
    )
)
def _make(arg: str | None) -> Encoder:
    if arg is None:
        return ClassicEncoder()
    variant, sep, raw = arg.partition("@")
    if variant not in KIND_CODES:
        raise UsageError(
            f"unknown classic variant {arg!r}; use classic, classic:bovw@PATH or classic:pca@PATH"
        )
    if not sep or not raw.strip():
        raise UsageError(
            f"classic:{variant} needs its fitted model file: classic:{variant}@PATH; "
            f"{how_to_make(variant)}"
        )
    # the absolute path goes into the space's name, so the collection can reopen the encoder
    # from any working directory
    path = os.path.abspath(os.path.expanduser(raw))
    if variant == "bovw":
        return BovwEncoder(BovwModel.load(path), path)
    return PcaEncoder(PcaModel.load(path), path)
