"""The weights' evaluation transform in Pillow and NumPy: resize, crop, scale, normalise.

It reproduces open_clip's torchvision transform (``Resize`` on the shorter side or a squash,
``CenterCrop``, ``ToTensor``, ``Normalize``) step for step: the same Pillow resampling call,
the same crop offsets, the same float32 arithmetic. Ingest runs it in the decoding threads
beside the file's decode, so the thread that feeds the model never waits on pixels, and a
process that runs the towers in ONNX Runtime never imports torch for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def _hw(size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = (int(s) for s in size)
    return h, w


def _per_channel(value: Any) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float32), (3,)).reshape(3, 1, 1).copy()


@dataclass(frozen=True, slots=True)
class PixelTransform:
    """One image (any mode) to a ``(3, H, W)`` float32 array, as the model takes it."""

    height: int
    width: int
    squash: bool
    resample: Image.Resampling
    mean: np.ndarray
    std: np.ndarray

    def _resized(self, im: Image.Image) -> Image.Image:
        if self.squash:
            return im.resize((self.width, self.height), self.resample)
        # torchvision's Resize(int): the shorter side to the size, the longer side truncated
        w, h = im.size
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(self.height * long / short)
        new_w, new_h = (self.height, new_long) if w <= h else (new_long, self.height)
        return im.resize((new_w, new_h), self.resample)

    def _cropped(self, im: Image.Image) -> Image.Image:
        w, h = im.size
        if (w, h) == (self.width, self.height):
            return im
        top = round((h - self.height) / 2.0)
        left = round((w - self.width) / 2.0)
        return im.crop((left, top, left + self.width, top + self.height))

    def __call__(self, im: Image.Image) -> np.ndarray:
        rgb = im if im.mode == "RGB" else im.convert("RGB")
        arr = np.asarray(self._cropped(self._resized(rgb)), dtype=np.float32)
        chw = arr.transpose(2, 0, 1) / np.float32(255.0)
        return np.ascontiguousarray((chw - self.mean) / self.std, dtype=np.float32)


def pixel_transform(cfg: dict[str, Any]) -> PixelTransform | None:
    """The transform for an open_clip preprocessing config; None for the modes it does not
    reproduce (``longest`` with padding, non-square ``shortest``), which keep torchvision."""
    mode = str(cfg.get("resize_mode", "shortest"))
    h, w = _hw(cfg["size"])
    interpolation = str(cfg.get("interpolation", "bicubic"))
    if mode not in ("shortest", "squash") or (mode == "shortest" and h != w):
        return None
    if interpolation not in _RESAMPLE:
        # open_clip evaluates "random" and anything else as bicubic
        interpolation = "bicubic"
    return PixelTransform(
        height=h,
        width=w,
        squash=mode == "squash",
        resample=_RESAMPLE[interpolation],
        mean=_per_channel(cfg["mean"]),
        std=_per_channel(cfg["std"]),
    )
