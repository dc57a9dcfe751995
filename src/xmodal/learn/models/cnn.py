"""A small CNN trained from scratch on 64-128 px pictures, and the pixel tensors it reads."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from xmodal.learn.models.tower_config import TowerConfig


@dataclass(frozen=True, slots=True)
class CnnConfig(TowerConfig):
    TYPE: ClassVar[str] = "cnn"

    out_dim: int
    image_size: int = 96
    width: int = 32
    dropout: float = 0.1
    #: residual blocks added to each stage after the first (0: one conv per stage)
    blocks: int = 0


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


class ConvTower(nn.Module):
    """Four conv stages (width, 2w, 4w, 8w channels), each halving the resolution, then global
    average pooling and a linear map. One conv per stage keeps it at ~0.4 M parameters with
    ``width=32`` (1.7 MB); ``blocks`` residual blocks per stage after the first add depth where
    the maps are small, so they cost little time on a CPU."""

    def __init__(self, config: CnnConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        chans = [3, w, 2 * w, 4 * w, 8 * w]
        stages: list[nn.Module] = []
        for n, (cin, cout) in enumerate(itertools.pairwise(chans)):
            stages.append(_conv_block(cin, cout))
            if n > 0:
                stages += [_Residual(cout) for _ in range(config.blocks)]
            stages.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*stages)
        self.dropout = nn.Dropout(config.dropout)
        self.proj = nn.Linear(8 * w, config.out_dim)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x).mean(dim=(2, 3))
        return F.normalize(self.proj(self.dropout(h)), dim=-1)


def cnn_decode_side(image_size: int) -> int:
    """How large indexing should decode pictures for a CNN of ``image_size`` input: twice
    the input, so the final downscale averages real pixels."""
    return 2 * image_size


def images_to_tensor(images: Sequence[Image.Image], size: int) -> Tensor:
    """RGB pictures as a ``(n, 3, size, size)`` float tensor in [-1, 1] (squashed, not
    cropped, so nothing at the edges is lost)."""
    arrays = [
        np.asarray(
            (im if im.mode == "RGB" else im.convert("RGB")).resize(
                (size, size), Image.Resampling.BILINEAR
            ),
            dtype=np.uint8,
        )
        for im in images
    ]
    return uint8_to_tensor(np.stack(arrays) if arrays else np.zeros((0, size, size, 3), np.uint8))


def uint8_to_tensor(batch: np.ndarray | Tensor) -> Tensor:
    """``(n, h, w, 3)`` uint8 → ``(n, 3, h, w)`` float in [-1, 1]."""
    x = batch if isinstance(batch, Tensor) else torch.from_numpy(np.ascontiguousarray(batch))
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
