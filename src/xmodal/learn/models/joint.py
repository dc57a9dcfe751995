"""The joint model: an image tower and a text tower into one space, built from plain data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from xmodal.learn.losses import LearnableTemperature
from xmodal.learn.models.cnn import CnnConfig, ConvTower
from xmodal.learn.models.fusion import FusionConfig, FusionTower
from xmodal.learn.models.heads import HeadConfig, ProjectionHead

#: the class that rebuilds each saved tower, by the ``"type"`` of its JSON
_TOWERS: dict[str, tuple[type[Any], type[nn.Module]]] = {
    config.TYPE: (config, module)
    for config, module in (
        (HeadConfig, ProjectionHead),
        (CnnConfig, ConvTower),
        (FusionConfig, FusionTower),
    )
}


def _tower(data: Mapping[str, Any]) -> nn.Module:
    kind = data.get("type")
    if kind not in _TOWERS:
        raise ValueError(f"unknown tower type {kind!r}")
    config, module = _TOWERS[str(kind)]
    return module(config.from_json(data))


class JointModel(nn.Module):
    """An image tower and a text tower into one space, plus the InfoNCE temperature.

    ``arch`` is ``{"image": {...}, "text": {...}, "temperature": t, "learn_temperature": b}``
    with each tower's ``to_json()``; it is stored in ``config.json`` so that loading needs
    nothing but the directory.
    """

    def __init__(self, arch: Mapping[str, Any]) -> None:
        super().__init__()
        self.arch = dict(arch)
        self.image = _tower(arch["image"])
        self.text = _tower(arch["text"])
        self.temperature = LearnableTemperature(
            float(arch.get("temperature", 0.07)), bool(arch.get("learn_temperature", True))
        )

    @property
    def image_takes_pixels(self) -> bool:
        return isinstance(self.image, ConvTower)

    @property
    def fused(self) -> bool:
        return isinstance(self.image, FusionTower)

    @property
    def dim(self) -> int:
        if isinstance(self.text, ProjectionHead):
            return self.text.config.out_dim
        raise ValueError("the text tower is not a projection head")

    def encode_image(self, x: Tensor) -> Tensor:
        out: Tensor = self.image(x)
        return out

    def encode_text(self, y: Tensor) -> Tensor:
        out: Tensor = self.text(y)
        return out


def parameter_bytes(module: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers()
    )
