"""What the sentence encoders share: text in, one L2-normalised vector per text out.

A family supplies its model's raw batch embedding (``embed``) and what describes its space;
the empty batch and the normalisation are handled here once."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole, l2_normalize
from xmodal.encoders.registry import EncoderInfo
from xmodal.records import Modality

_TEXT = frozenset({Modality.TEXT})


class SentenceEncoder(Encoder):
    def __init__(
        self,
        *,
        name: str,
        weights: str,
        dim: int,
        preprocessing: dict[str, Any],
        languages: tuple[str, ...],
    ) -> None:
        self._spec = EncoderSpec(
            name=name,
            weights=weights,
            dim=dim,
            modalities=_TEXT,
            preprocessing=preprocessing,
            languages=languages,
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    @abstractmethod
    def embed(self, texts: Sequence[str], role: TextRole) -> np.ndarray:
        """Raw vectors of a non-empty batch, one row per text, not yet normalised."""

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self._spec.dim), dtype=np.float32)
        return l2_normalize(self.embed(texts, role))


def sentence_info(
    family: str,
    description: str,
    *,
    dim: int,
    languages: tuple[str, ...],
    size: str,
    available: Callable[[], tuple[bool, str]],
) -> EncoderInfo:
    """The registry entry of a text-only family."""
    return EncoderInfo(
        family=family,
        description=description,
        modalities=_TEXT,
        dim=dim,
        languages=languages,
        size=size,
        available=available,
    )
