"""Projection heads: frozen encoder features → the shared space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch.nn.functional as F
from torch import Tensor, nn

from xmodal.learn.models.tower_config import TowerConfig

HeadKind = Literal["linear", "mlp"]


@dataclass(frozen=True, slots=True)
class HeadConfig(TowerConfig):
    TYPE: ClassVar[str] = "head"

    in_dim: int
    out_dim: int
    kind: HeadKind = "mlp"
    hidden: int = 512
    dropout: float = 0.1


class ProjectionHead(nn.Module):
    """Linear, or a 2-layer MLP with dropout; L2-normalised so that dot products are
    cosines."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        self.net: nn.Module
        if config.kind == "linear":
            self.net = nn.Linear(config.in_dim, config.out_dim)
        else:
            self.net = nn.Sequential(
                nn.Linear(config.in_dim, config.hidden),
                nn.GELU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.hidden, config.out_dim),
            )

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.net(x), dim=-1)
