"""The encoders of the classic family: each image's vector computed on its own."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from xmodal.encoders.base import Encoder, EncoderSpec, l2_normalize
from xmodal.encoders.classic.modelfile import FittedModel
from xmodal.records import Modality


class PerImageEncoder(Encoder):
    """An image encoder that computes each image's vector on its own (so that a vector never
    depends on how images were batched) and L2-normalises it."""

    def __init__(self, spec: EncoderSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    @abstractmethod
    def vector(self, img: Image.Image) -> np.ndarray:
        """One image's vector, not yet normalised."""

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self._spec.dim), dtype=np.float32)
        return l2_normalize(np.stack([self.vector(im) for im in images]))


class FittedEncoder(PerImageEncoder):
    """``classic:KIND@PATH``: an encoder reading a fitted model. The model's fingerprint is
    the space's weights tag, and its absolute path is part of the space's name."""

    def __init__(
        self, model: FittedModel, path: str, dim: int, preprocessing: dict[str, Any]
    ) -> None:
        super().__init__(
            EncoderSpec(
                name=f"classic:{model.kind}@{path}",
                weights=model.fingerprint,
                dim=dim,
                modalities=frozenset({Modality.IMAGE}),
                preprocessing=preprocessing,
            )
        )
