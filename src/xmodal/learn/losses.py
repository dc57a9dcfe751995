"""Losses for learning a joint image-text space from paired batches.

Row ``i`` of the image batch and row ``i`` of the text batch are a pair. Optional ``groups``
(one integer per pair) mark pairs that describe the same thing (two drawings sharing one
caption): such an image and text are positives for each other, never negatives, so the loss
does not push apart what the data says belongs together.

- :class:`InfoNCELoss`: symmetric cross-entropy over the batch's similarity matrix (CLIP),
  with a learnable temperature;
- :func:`triplet_loss`: margin loss on cosine distances with in-batch negative mining
  (batch-all, batch-hard, semi-hard), in both retrieval directions.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Mining = Literal["batch-all", "batch-hard", "semi-hard"]
MINING: tuple[Mining, ...] = ("batch-all", "batch-hard", "semi-hard")

#: CLIP's bounds: a temperature below 1/100 makes the softmax a hard max and training unstable
MAX_LOGIT_SCALE = math.log(100.0)
MIN_LOGIT_SCALE = 0.0


def positive_mask(n: int, groups: Tensor | None, device: torch.device) -> Tensor:
    """``(n, n)`` bool: True where image ``i`` and text ``j`` are a positive pair."""
    if groups is None:
        return torch.eye(n, dtype=torch.bool, device=device)
    if groups.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), got {tuple(groups.shape)}")
    g = groups.to(device)
    return g[:, None] == g[None, :]


class LearnableTemperature(nn.Module):
    """The softmax temperature as ``exp(-logit_scale)``, learned in log space.

    Log space keeps the temperature positive and makes equal steps equal ratios; the clamp
    stops it from collapsing towards zero, where the loss turns into a hard max.
    """

    def __init__(self, init: float = 0.07, learnable: bool = True) -> None:
        super().__init__()
        if not init > 0:
            raise ValueError(f"temperature must be positive, got {init}")
        value = torch.tensor(math.log(1.0 / init), dtype=torch.float32)
        self.logit_scale = nn.Parameter(value, requires_grad=learnable)

    def forward(self) -> Tensor:
        return self.logit_scale.clamp(MIN_LOGIT_SCALE, MAX_LOGIT_SCALE).exp()

    @property
    def temperature(self) -> float:
        return float(1.0 / self.forward().detach())


def info_nce(
    image: Tensor,
    text: Tensor,
    scale: Tensor | float,
    groups: Tensor | None = None,
) -> Tensor:
    """Symmetric InfoNCE of L2-normalised ``image`` and ``text`` batches ``(n, d)``.

    ``scale`` multiplies the cosine similarities (1 / temperature). With ``groups`` every
    positive of a row shares the target probability equally.
    """
    if image.shape != text.shape or image.ndim != 2:
        raise ValueError(f"need two (n, d) batches of one shape, got {image.shape}, {text.shape}")
    n = image.shape[0]
    logits = scale * (image @ text.T)
    if groups is None:
        target = torch.arange(n, device=image.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    pos = positive_mask(n, groups, image.device).to(logits.dtype)
    soft = pos / pos.sum(dim=1, keepdim=True)
    # the mask is symmetric, so the same soft targets serve both directions
    i2t = -(soft * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    t2i = -(soft * F.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return 0.5 * (i2t + t2i)


class InfoNCELoss(nn.Module):
    """:func:`info_nce` with its temperature as a parameter of the loss."""

    def __init__(self, temperature: float = 0.07, learnable: bool = True) -> None:
        super().__init__()
        self.temperature = LearnableTemperature(temperature, learnable)

    def forward(self, image: Tensor, text: Tensor, groups: Tensor | None = None) -> Tensor:
        return info_nce(image, text, self.temperature(), groups)


def cosine_distance(a: Tensor, b: Tensor) -> Tensor:
    """``(n, m)`` matrix of ``1 - cos(a_i, b_j)``; inputs need not be normalised."""
    return 1.0 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).T


def mine_triplets(
    dist: Tensor,
    mining: Mining,
    margin: float,
    groups: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Anchor and negative indices chosen from an anchor-by-candidate distance matrix whose
    diagonal holds each anchor's positive.

    - ``batch-all``: every valid negative of every anchor;
    - ``batch-hard``: the closest negative of each anchor (the most violating one);
    - ``semi-hard``: the closest negative that is still farther than the positive (inside the
      margin band); an anchor without one takes its farthest negative, which keeps it in the
      batch at little or no loss instead of forcing the hard negatives that collapse early
      training (as FaceNet and TensorFlow Addons do).

    Returns two 1-D index tensors of equal length (a batch of one yields none).
    """
    n, m = dist.shape
    if n != m:
        raise ValueError(f"distance matrix must be square, got {n}x{m}")
    if mining not in MINING:
        raise ValueError(f"mining must be one of {', '.join(MINING)}, got {mining!r}")
    d = dist.detach()
    negative = ~positive_mask(n, groups, d.device)
    has_neg = negative.any(dim=1)
    if mining == "batch-all":
        a, j = negative.nonzero(as_tuple=True)
        return a, j
    anchors = torch.arange(n, device=d.device)[has_neg]
    inf = torch.tensor(float("inf"), dtype=d.dtype, device=d.device)
    if mining == "batch-hard":
        hardest = torch.where(negative, d, inf).argmin(dim=1)
        return anchors, hardest[has_neg]
    d_ap = d.diagonal()[:, None]
    band = negative & (d > d_ap) & (d < d_ap + margin)
    semi = torch.where(band, d, inf).argmin(dim=1)
    easiest = torch.where(negative, d, -inf).argmax(dim=1)
    chosen = torch.where(band.any(dim=1), semi, easiest)
    return anchors, chosen[has_neg]


def _one_direction(dist: Tensor, mining: Mining, margin: float, groups: Tensor | None) -> Tensor:
    a, j = mine_triplets(dist, mining, margin, groups)
    if a.numel() == 0:
        return dist.sum() * 0.0
    losses = F.relu(dist[a, a] - dist[a, j] + margin)
    if mining == "batch-all":
        # averaging over all triplets would let the many already-satisfied ones dilute the
        # few that still teach something, so only the active ones count
        active = losses > 0
        return losses[active].mean() if bool(active.any()) else losses.sum() * 0.0
    return losses.mean()


def triplet_loss(
    image: Tensor,
    text: Tensor,
    margin: float = 0.2,
    mining: Mining = "semi-hard",
    groups: Tensor | None = None,
    symmetric: bool = True,
) -> Tensor:
    """Cross-modal triplet loss on cosine distance: image ``i`` should be closer to text ``i``
    than to any other text of the batch by ``margin`` (and, with ``symmetric``, text ``i`` to
    image ``i`` than to other images)."""
    if image.shape != text.shape or image.ndim != 2:
        raise ValueError(f"need two (n, d) batches of one shape, got {image.shape}, {text.shape}")
    dist = cosine_distance(image, text)
    loss = _one_direction(dist, mining, margin, groups)
    if symmetric:
        loss = 0.5 * (loss + _one_direction(dist.T, mining, margin, groups))
    return loss


class TripletLoss(nn.Module):
    def __init__(
        self, margin: float = 0.2, mining: Mining = "semi-hard", symmetric: bool = True
    ) -> None:
        super().__init__()
        if mining not in MINING:
            raise ValueError(f"mining must be one of {', '.join(MINING)}, got {mining!r}")
        self.margin = margin
        self.mining: Mining = mining
        self.symmetric = symmetric

    def forward(self, image: Tensor, text: Tensor, groups: Tensor | None = None) -> Tensor:
        return triplet_loss(image, text, self.margin, self.mining, groups, self.symmetric)
