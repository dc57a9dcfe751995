"""Random views of pictures for training a CNN on few drawings."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

#: the luma weights of ITU-R BT.601, as greyscale conversion uses them
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True, slots=True)
class Augment:
    """Random views of a batch of pictures for training a CNN on few drawings.

    Works on whole batches with tensor operations (on the GPU when the batch is there), and
    draws every random number from the caller's CPU generator, so a seeded run sees the same
    views on any device. Besides crops, rotation and colour jitter it changes the drawing
    style, because the same concept drawn by another hand must land in the same place:
    outlines thinned or erased (a max filter: flat-colour styles have none) or thickened (a
    min filter), blur, zoom-out onto a coloured background, grey versions and cut-outs.
    No horizontal flip: for drawings of arrows, hands and flags the mirror image is a
    different thing with a different caption.
    """

    size: int = 96
    #: area of the view relative to the picture; above 1 zooms out, adding background
    scale: tuple[float, float] = (0.5, 1.4)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    rotation: float = 15.0
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.4
    hue: float = 0.04
    grayscale: float = 0.15
    #: probabilities of the style changes
    thin_outline: float = 0.3
    thick_outline: float = 0.15
    blur: float = 0.2
    cutout: float = 0.25
    tinted_background: float = 0.2

    def __call__(self, batch: Tensor, generator: torch.Generator) -> Tensor:
        """``batch``: ``(n, h, w, 3)`` uint8 pictures on a white background →
        ``(n, 3, size, size)`` float views in [-1, 1]."""
        n = batch.shape[0]
        dev = batch.device
        x = batch.permute(0, 3, 1, 2).float() / 255.0

        def chance(p: float) -> Tensor:
            return (torch.rand(n, generator=generator) < p).to(dev).view(n, 1, 1, 1)

        def uniform(lo: float, hi: float, shape: tuple[int, ...] = ()) -> Tensor:
            return lo + (hi - lo) * torch.rand((n, *shape), generator=generator)

        x = torch.where(chance(self.thin_outline), F.max_pool2d(x, 5, 1, 2), x)
        x = torch.where(chance(self.thick_outline), -F.max_pool2d(-x, 3, 1, 1), x)
        x = torch.where(chance(self.blur), F.avg_pool2d(x, 3, 1, 1, count_include_pad=False), x)
        background = torch.where(
            chance(self.tinted_background).cpu().view(n, 1),
            uniform(0.75, 1.0, (3,)),
            torch.ones(n, 3),
        ).to(dev)
        x = self._affine(x, background, generator)
        x = self._jitter(x, generator)
        grey = (x * torch.tensor(_LUMA, device=dev).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = torch.where(chance(self.grayscale), grey.expand_as(x), x)
        x = self._cutout(x, background, chance(self.cutout), generator)
        return x.clamp(0.0, 1.0) * 2.0 - 1.0

    def _affine(self, x: Tensor, background: Tensor, generator: torch.Generator) -> Tensor:
        n = x.shape[0]
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * torch.rand(n, generator=generator)
        log_r = torch.empty(n).uniform_(
            math.log(self.ratio[0]), math.log(self.ratio[1]), generator=generator
        )
        aspect = torch.exp(log_r)
        sx, sy = torch.sqrt(area * aspect), torch.sqrt(area / aspect)
        # the view stays inside the picture when it is smaller, and centred near it otherwise
        tx = (torch.rand(n, generator=generator) * 2 - 1) * (1 - sx).abs().clamp(min=0.05)
        ty = (torch.rand(n, generator=generator) * 2 - 1) * (1 - sy).abs().clamp(min=0.05)
        angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(self.rotation)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack(
            [torch.stack([cos * sx, -sin * sy, tx], 1), torch.stack([sin * sx, cos * sy, ty], 1)],
            1,
        ).to(x.device)
        grid = F.affine_grid(theta, [n, 3, self.size, self.size], align_corners=False)
        bg = background.view(n, 3, 1, 1)
        # sampled as a difference from the background, so zero padding is the background
        out = F.grid_sample(
            x - bg, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        return out + bg

    def _jitter(self, x: Tensor, generator: torch.Generator) -> Tensor:
        n, dev = x.shape[0], x.device

        def factor(amount: float) -> Tensor:
            f = 1 + (torch.rand(n, generator=generator) * 2 - 1) * amount
            return f.to(dev).view(n, 1, 1, 1)

        luma = torch.tensor(_LUMA, device=dev).view(1, 3, 1, 1)
        x = x * factor(self.brightness)
        mean = (x * luma).sum(1, keepdim=True).mean(dim=(2, 3), keepdim=True)
        x = (x - mean) * factor(self.contrast) + mean
        grey = (x * luma).sum(1, keepdim=True)
        x = (x - grey) * factor(self.saturation) + grey
        if self.hue > 0:
            x = _rotate_hue(x, (torch.rand(n, generator=generator) * 2 - 1) * self.hue)
        return x

    def _cutout(
        self, x: Tensor, background: Tensor, apply: Tensor, generator: torch.Generator
    ) -> Tensor:
        n, _, h, w = x.shape
        side = (torch.rand(n, generator=generator) * 0.3 + 0.1) * h
        cy = torch.rand(n, generator=generator) * h
        cx = torch.rand(n, generator=generator) * w
        ys = torch.arange(h).view(1, h, 1)
        xs = torch.arange(w).view(1, 1, w)
        half = (side / 2).view(n, 1, 1)
        box = ((ys - cy.view(n, 1, 1)).abs() < half) & ((xs - cx.view(n, 1, 1)).abs() < half)
        mask = box.unsqueeze(1).to(x.device) & apply
        return torch.where(mask, background.view(n, 3, 1, 1), x)


def _rotate_hue(x: Tensor, turns: Tensor) -> Tensor:
    """Rotates hue by ``turns`` of the colour circle: a rotation of the chroma plane of YIQ,
    a linear map per picture, so no HSV round trip."""
    rgb2yiq = torch.tensor(
        [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], device=x.device
    )
    yiq2rgb = torch.linalg.inv(rgb2yiq)
    a = (turns * 2 * math.pi).to(x.device)
    c, s = torch.cos(a), torch.sin(a)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    rot = torch.stack(
        [
            torch.stack([one, zero, zero], 1),
            torch.stack([zero, c, -s], 1),
            torch.stack([zero, s, c], 1),
        ],
        1,
    )
    m = yiq2rgb @ rot @ rgb2yiq
    return torch.einsum("nij,njhw->nihw", m, x)
