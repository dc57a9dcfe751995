"""Clip encoder names: ``clip:MODEL[@TAG_OR_PATH][#onnx|#onnx-int8]`` and
``hf-clip:PATH_OR_REPO`` taken apart, and the one-line messages that quote them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from xmodal.errors import UsageError
from xmodal.records import Modality

BACKENDS = ("torch", "onnx", "onnx-int8")
SYNTAX = "clip:MODEL[@TAG_OR_PATH][#onnx|#onnx-int8]"
HF_SYNTAX = "hf-clip:PATH_OR_REPO"
EXAMPLE = "clip:ViT-B-32@laion2b_s34b_b79k"
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
MODALITIES = frozenset({Modality.IMAGE, Modality.TEXT})


def looks_like_path(source: str) -> bool:
    """Tags are plain identifiers (``laion2b_s34b_b79k``); anything path-shaped is a file."""
    return (
        source.startswith(("/", "~", "."))
        or "/" in source
        or os.sep in source
        or source.lower().endswith(WEIGHT_SUFFIXES)
    )


@dataclass(frozen=True, slots=True)
class ClipName:
    """``clip:MODEL[@TAG_OR_PATH][#backend]`` taken apart."""

    model: str
    source: str | None = None
    backend: str = "torch"

    @property
    def is_path(self) -> bool:
        return self.source is not None and looks_like_path(self.source)

    def weights_name(self) -> str:
        """The name without a backend: what ``xmodal models pull`` takes."""
        return f"clip:{self.model}" + (f"@{self.source}" if self.source else "")

    def full_name(self) -> str:
        suffix = "" if self.backend == "torch" else f"#{self.backend}"
        return self.weights_name() + suffix


def parse_clip_name(arg: str | None) -> ClipName | None:
    """The parts of a ``clip:`` name; ``None`` for the bare family name ``clip``."""
    if arg is None:
        return None
    rest, backend = arg, "torch"
    head, sep, tail = arg.rpartition("#")
    if sep and tail in BACKENDS:
        rest, backend = head, tail
    elif sep and re.fullmatch(r"[a-z0-9-]+", tail):
        raise UsageError(
            f"unknown backend #{tail} in clip:{arg}; use #onnx or #onnx-int8, or none for PyTorch"
        )
    model, at, source = rest.partition("@")
    model = model.strip()
    if not model:
        raise UsageError(f"clip name needs a model: {SYNTAX}, e.g. {EXAMPLE}")
    if at and not source:
        raise UsageError(f"nothing after '@' in clip:{arg}; {SYNTAX}")
    return ClipName(model, source or None, backend)


def hf_is_local(arg: str) -> bool:
    """Whether ``hf-clip:ARG`` names a folder on this machine rather than a hub repo."""
    # repo ids contain a slash too (org/name), so only an explicit or existing path is local
    return arg.startswith(("/", "~", ".")) or os.path.isdir(os.path.expanduser(arg))


def one_line(e: BaseException, limit: int = 240) -> str:
    """An exception's text on one line, shortened, for messages the CLI prints as one line."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
