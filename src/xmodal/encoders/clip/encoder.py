"""The clip encoder: two towers into one space behind open_clip's preprocessing.

The towers are plain callables from a batch of model inputs to vectors, so PyTorch modules and
ONNX Runtime sessions sit behind the same transform, tokenizer and batching.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from PIL import Image

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole, l2_normalize
from xmodal.encoders.clip.weights import ResolvedWeights

if TYPE_CHECKING:
    import torch

Tower = Callable[["torch.Tensor"], np.ndarray]
T = TypeVar("T")


def encode_in_batches(
    items: Sequence[T], batch_size: int, dim: int, run: Callable[[Sequence[T]], np.ndarray]
) -> np.ndarray:
    """``run`` over ``items`` in slices of ``batch_size``, the rows joined and L2-normalised."""
    if not items:
        return np.zeros((0, dim), dtype=np.float32)
    out = [run(items[start : start + batch_size]) for start in range(0, len(items), batch_size)]
    return l2_normalize(np.concatenate(out).astype(np.float32, copy=False))


class ClipEncoder(Encoder):
    """Images and text through two towers into one space; the towers are PyTorch modules
    or ONNX Runtime sessions behind the same preprocessing and tokenizer."""

    #: images per forward pass; set per architecture by ``image_batch_size``
    batch_size = 16
    text_batch_size = 64

    def __init__(
        self,
        spec: EncoderSpec,
        transform: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        image_tower: Tower,
        text_tower: Tower,
        model: torch.nn.Module | None = None,
    ) -> None:
        self._spec = spec
        self._transform = transform
        self._tokenizer = tokenizer
        self._image_tower = image_tower
        self._text_tower = text_tower
        #: the PyTorch model when there is one (benchmarks and exports reach for it)
        self.model = model
        #: where the towers came from and what building them cost (ONNX export, quantisation)
        self.info: dict[str, Any] = {}

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        def run(chunk: Sequence[Image.Image]) -> np.ndarray:
            pixels = torch.stack(
                [self._transform(im if im.mode == "RGB" else im.convert("RGB")) for im in chunk]
            )
            return self._image_tower(pixels)

        return encode_in_batches(images, self.batch_size, self._spec.dim, run)

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        # CLIP embeds queries and passages alike: it was trained on captions without roles
        def run(chunk: Sequence[str]) -> np.ndarray:
            return self._text_tower(self._tokenizer(list(chunk)))

        return encode_in_batches(texts, self.text_batch_size, self._spec.dim, run)


# -- preprocessing ----------------------------------------------------------------------------


def preprocess_cfg_for(w: ResolvedWeights, image_size: Any) -> dict[str, Any]:
    """The preprocessing open_clip gives a model built from ``w``, without building it:
    defaults, the model's image size, then what the weights need."""
    from open_clip.transform import PreprocessCfg

    cfg = asdict(PreprocessCfg())
    cfg["size"] = tuple(image_size) if isinstance(image_size, list) else image_size
    cfg.update(w.preprocess)
    return cfg


def preprocess_record(
    cfg: dict[str, Any], tokenizer: Any, context_length: int, backend: str
) -> dict[str, Any]:
    """What the collection stores about how pixels and words become model inputs."""
    size = cfg["size"]
    hw = [int(size), int(size)] if isinstance(size, int) else [int(s) for s in size]
    mode = str(cfg.get("resize_mode", "shortest"))
    return {
        "library": "open_clip",
        "image_size": hw,
        "resize_mode": mode,
        "crop": {"shortest": "center", "longest": "pad", "squash": "none"}.get(mode, mode),
        "interpolation": str(cfg.get("interpolation", "bicubic")),
        "mean": [float(x) for x in cfg["mean"]],
        "std": [float(x) for x in cfg["std"]],
        "fill_color": int(cfg.get("fill_color", 0)),
        "tokenizer": type(tokenizer).__name__,
        "context_length": int(context_length),
        "backend": backend,
    }


def image_transform(cfg: dict[str, Any]) -> Callable[[Image.Image], torch.Tensor]:
    """open_clip's evaluation transform for ``cfg``: resize, crop or pad, normalise."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    known = {f.name for f in fields(PreprocessCfg)}
    pp = PreprocessCfg(**{k: v for k, v in cfg.items() if k in known})
    transform: Callable[[Image.Image], torch.Tensor] = image_transform_v2(pp, is_train=False)
    return transform
