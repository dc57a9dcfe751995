"""Fusion of several per-modality feature vectors of one item (its pixels, text read from it,
text attached to it) into one vector, and the item tower built on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xmodal.learn.models.heads import HeadConfig, ProjectionHead
from xmodal.learn.models.tower_config import TowerConfig

#: the feature tokens of an item, in order: its pixels, the text read from its pixels (OCR),
#: and the text attached to it (caption, sidecar, file name)
FUSION_TOKENS: tuple[str, ...] = ("pixels", "ocr", "text")


class AttentionFusion(nn.Module):
    """A learned query attends over an item's per-modality feature tokens.

    Each modality's feature is projected to ``dim`` and tagged with a learned modality
    embedding; ``present`` masks modalities an item lacks (no text found by OCR), so the
    query spreads its attention over what is there. The attention weights say how much each
    modality made the fused vector, which is what an explanation of a match shows.
    """

    def __init__(
        self, in_dims: Sequence[int], dim: int, heads: int = 4, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not in_dims:
            raise ValueError("need at least one modality")
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.in_dims = tuple(int(d) for d in in_dims)
        self.proj = nn.ModuleList(nn.Linear(d, dim) for d in self.in_dims)
        self.modality = nn.Parameter(torch.randn(len(self.in_dims), dim) * 0.02)
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self, features: Sequence[Tensor], present: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``features[k]`` is ``(n, in_dims[k])``; ``present`` is ``(n, m)`` bool. Returns
        the fused ``(n, dim)`` L2-normalised vectors and ``(n, m)`` attention weights."""
        if len(features) != len(self.in_dims):
            raise ValueError(f"expected {len(self.in_dims)} feature tensors, got {len(features)}")
        tokens = torch.stack(
            [
                proj(f) + self.modality[k]
                for k, (proj, f) in enumerate(zip(self.proj, features, strict=True))
            ],
            dim=1,
        )
        n, m, _ = tokens.shape
        if present is None:
            present = torch.ones(n, m, dtype=torch.bool, device=tokens.device)
        # a row with nothing present would attend to nothing and come out NaN: let it attend
        # to its (zero-information) tokens and zero its output afterwards
        empty = ~present.any(dim=1)
        mask = ~(present | empty[:, None])
        q = self.query.expand(n, 1, -1)
        fused, weights = self.attn(q, self.norm(tokens), self.norm(tokens), key_padding_mask=mask)
        out = F.normalize(self.out(fused[:, 0]), dim=-1)
        out = torch.where(empty[:, None], torch.zeros_like(out), out)
        return out, weights[:, 0]


class ConcatFusion(nn.Module):
    """Early fusion: the modalities' features side by side (a missing one as zeros), then a
    projection head. The baseline the attention network has to beat."""

    def __init__(self, in_dims: Sequence[int], dim: int, hidden: int = 512, dropout: float = 0.1):
        super().__init__()
        self.in_dims = tuple(int(d) for d in in_dims)
        self.head = ProjectionHead(HeadConfig(sum(self.in_dims), dim, "mlp", hidden, dropout))

    def forward(self, features: Sequence[Tensor], present: Tensor | None = None) -> Tensor:
        if present is not None:
            features = [f * present[:, k : k + 1].to(f.dtype) for k, f in enumerate(features)]
        return self.head(torch.cat(list(features), dim=1))


class WeightedSumFusion(nn.Module):
    """Each modality through its own projection head into the joint space, then a weighted
    sum with learned weights (a softmax over the modalities present), re-normalised."""

    def __init__(self, in_dims: Sequence[int], dim: int, hidden: int = 512, dropout: float = 0.1):
        super().__init__()
        self.in_dims = tuple(int(d) for d in in_dims)
        self.heads = nn.ModuleList(
            ProjectionHead(HeadConfig(d, dim, "mlp", hidden, dropout)) for d in self.in_dims
        )
        self.logits = nn.Parameter(torch.zeros(len(self.in_dims)))

    def forward(self, features: Sequence[Tensor], present: Tensor | None = None) -> Tensor:
        z = torch.stack([h(f) for h, f in zip(self.heads, features, strict=True)], dim=1)
        logits = self.logits.expand(z.shape[0], -1)
        if present is not None:
            logits = logits.masked_fill(~present, float("-inf"))
        w = torch.nan_to_num(torch.softmax(logits, dim=1), nan=0.0)
        return F.normalize((w.unsqueeze(-1) * z).sum(dim=1), dim=-1)


FusionKind = Literal["concat", "sum", "attention"]


@dataclass(frozen=True, slots=True)
class FusionConfig(TowerConfig):
    """An item tower over several frozen per-modality features (e.g. its pixels' features
    and its attached text's embedding), with a presence flag per modality."""

    TYPE: ClassVar[str] = "fusion"

    in_dims: tuple[int, ...]
    out_dim: int
    kind: FusionKind = "attention"
    hidden: int = 512
    dropout: float = 0.1


class FusionTower(nn.Module):
    """Reads one flat input row per item, ``[features of each modality | presence flags]``,
    so that fusion trains, saves and loads like any other tower."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        dims, dim = config.in_dims, config.out_dim
        self.net: nn.Module
        if config.kind == "attention":
            self.net = AttentionFusion(dims, dim, heads=4, dropout=config.dropout)
        elif config.kind == "concat":
            self.net = ConcatFusion(dims, dim, config.hidden, config.dropout)
        else:
            self.net = WeightedSumFusion(dims, dim, config.hidden, config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        m = len(self.config.in_dims)
        features = list(torch.split(x[:, :-m], list(self.config.in_dims), dim=1))
        present = x[:, -m:] > 0.5
        out = self.net(features, present)
        fused: Tensor = out[0] if isinstance(out, tuple) else out
        return fused


def fusion_rows(features: Sequence[np.ndarray], present: np.ndarray) -> np.ndarray:
    """The flat rows a :class:`FusionTower` reads: each modality's features (zeros where
    absent) and then the presence flags."""
    p = np.asarray(present, dtype=np.float32)
    parts = [np.asarray(f, dtype=np.float32) * p[:, k : k + 1] for k, f in enumerate(features)]
    return np.concatenate([*parts, p], axis=1)
