"""Trainable parts of a joint space, each built from a plain-data description.

- :class:`ProjectionHead`: frozen encoder features → the shared space (linear, or a 2-layer
  MLP with dropout), L2-normalised so that dot products are cosines;
- :class:`ConvTower`: a small CNN trained from scratch on 64-128 px pictures, with the
  augmentations of :class:`Augment`;
- :class:`AttentionFusion` / :class:`ConcatFusion`: several per-modality feature vectors of one
  item (its pixels, text read from it, text attached to it) into one vector;
- :class:`JointModel`: an image tower and a text tower (and the InfoNCE temperature), built
  from an ``arch`` dict that is saved next to the weights, so a model directory is rebuilt
  without code specific to it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from xmodal.learn.losses import LearnableTemperature

HeadKind = Literal["linear", "mlp"]


@dataclass(frozen=True, slots=True)
class HeadConfig:
    in_dim: int
    out_dim: int
    kind: HeadKind = "mlp"
    hidden: int = 512
    dropout: float = 0.1

    def to_json(self) -> dict[str, Any]:
        return {"type": "head", **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HeadConfig:
        kind = data.get("kind", "mlp")
        if kind not in ("linear", "mlp"):
            raise ValueError(f"unknown head kind {kind!r}")
        return cls(
            in_dim=int(data["in_dim"]),
            out_dim=int(data["out_dim"]),
            kind=kind,
            hidden=int(data.get("hidden", 512)),
            dropout=float(data.get("dropout", 0.1)),
        )


class ProjectionHead(nn.Module):
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


# -- a CNN from scratch --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CnnConfig:
    out_dim: int
    image_size: int = 96
    width: int = 32
    dropout: float = 0.1
    #: residual blocks added to each stage after the first (0: one conv per stage)
    blocks: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"type": "cnn", **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CnnConfig:
        return cls(
            out_dim=int(data["out_dim"]),
            image_size=int(data.get("image_size", 96)),
            width=int(data.get("width", 32)),
            dropout=float(data.get("dropout", 0.1)),
            blocks=int(data.get("blocks", 0)),
        )


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


# -- fusion of per-modality features -------------------------------------------------------

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
class FusionConfig:
    """An item tower over several frozen per-modality features (e.g. its pixels' features
    and its attached text's embedding), with a presence flag per modality."""

    in_dims: tuple[int, ...]
    out_dim: int
    kind: FusionKind = "attention"
    hidden: int = 512
    dropout: float = 0.1

    def to_json(self) -> dict[str, Any]:
        return {"type": "fusion", **asdict(self), "in_dims": list(self.in_dims)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FusionConfig:
        kind = data.get("kind", "attention")
        if kind not in ("concat", "sum", "attention"):
            raise ValueError(f"unknown fusion kind {kind!r}")
        return cls(
            in_dims=tuple(int(d) for d in data["in_dims"]),
            out_dim=int(data["out_dim"]),
            kind=kind,
            hidden=int(data.get("hidden", 512)),
            dropout=float(data.get("dropout", 0.1)),
        )


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


# -- the two towers ------------------------------------------------------------------------


def _tower(data: Mapping[str, Any]) -> nn.Module:
    kind = data.get("type")
    if kind == "head":
        return ProjectionHead(HeadConfig.from_json(data))
    if kind == "cnn":
        return ConvTower(CnnConfig.from_json(data))
    if kind == "fusion":
        return FusionTower(FusionConfig.from_json(data))
    raise ValueError(f"unknown tower type {kind!r}")


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
