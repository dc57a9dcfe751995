"""The clip encoder: two towers into one space behind open_clip's preprocessing.

The towers are plain callables from a batch of model inputs (NumPy arrays) to vectors, so
PyTorch modules and ONNX Runtime sessions sit behind the same transform, tokenizer and
batching. Pixels are prepared one image at a time (``prepare_image``), which ingest calls in
its decoding threads, and encoded in batches (``encode_prepared``) on the thread that owns
the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from PIL import Image

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole, l2_normalize
from xmodal.encoders.clip.pixels import pixel_transform
from xmodal.encoders.clip.weights import ResolvedWeights

if TYPE_CHECKING:
    import torch

#: a batch of model inputs (pixels or token ids) to one vector per row
Tower = Callable[[np.ndarray], np.ndarray]
#: one image to the ``(3, H, W)`` float32 array the image tower takes
Pixels = Callable[[Image.Image], np.ndarray]
#: texts to a ``(n, context_length)`` int64 array of token ids
Tokens = Callable[[list[str]], np.ndarray]
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
        pixels: Pixels,
        tokens: Tokens,
        image_tower: Tower,
        text_tower: Tower,
        model: torch.nn.Module | None = None,
    ) -> None:
        self._spec = spec
        self._pixels = pixels
        self._tokens = tokens
        self._image_tower = image_tower
        self._text_tower = text_tower
        #: the PyTorch model when there is one (benchmarks and exports reach for it)
        self.model = model
        #: where the towers came from and what building them cost (ONNX export, quantisation)
        self.info: dict[str, Any] = {}

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def prepare_image(self, image: Image.Image) -> np.ndarray:
        """The model input for one image; safe to call from many threads at once."""
        return self._pixels(image if image.mode == "RGB" else image.convert("RGB"))

    def encode_prepared(self, pixels: Sequence[np.ndarray]) -> np.ndarray:
        """Vectors of images already through ``prepare_image``."""

        def run(chunk: Sequence[np.ndarray]) -> np.ndarray:
            return self._image_tower(np.stack(chunk))

        return encode_in_batches(pixels, self.batch_size, self._spec.dim, run)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_prepared([self.prepare_image(im) for im in images])

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        # CLIP embeds queries and passages alike: it was trained on captions without roles
        def run(chunk: Sequence[str]) -> np.ndarray:
            return self._text_tower(self._tokens(list(chunk)))

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


def pixels_for(cfg: dict[str, Any]) -> Pixels:
    """The weights' transform in Pillow and NumPy where it reproduces torchvision's, else
    torchvision's own."""
    fast = pixel_transform(cfg)
    if fast is not None:
        return fast
    transform = image_transform(cfg)
    return lambda im: np.asarray(transform(im).numpy(), dtype=np.float32)
