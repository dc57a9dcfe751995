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
from PIL import Image, ImageEnhance
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

    def to_json(self) -> dict[str, Any]:
        return {"type": "cnn", **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CnnConfig:
        return cls(
            out_dim=int(data["out_dim"]),
            image_size=int(data.get("image_size", 96)),
            width=int(data.get("width", 32)),
            dropout=float(data.get("dropout", 0.1)),
        )


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ConvTower(nn.Module):
    """Four conv stages (width, 2w, 4w, 8w channels), each halving the resolution, then global
    average pooling and a linear map. One conv per stage keeps it at ~0.4 M parameters with
    ``width=32`` (1.7 MB): small data does not support more, and it stays fast on a CPU."""

    def __init__(self, config: CnnConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        chans = [3, w, 2 * w, 4 * w, 8 * w]
        stages: list[nn.Module] = []
        for cin, cout in itertools.pairwise(chans):
            stages += [_conv_block(cin, cout), nn.MaxPool2d(2)]
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


def uint8_to_tensor(batch: np.ndarray) -> Tensor:
    """``(n, h, w, 3)`` uint8 → ``(n, 3, h, w)`` float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


@dataclass(frozen=True, slots=True)
class Augment:
    """Random views of a picture for training a CNN on few images, drawn from a caller's
    generator so that a seeded run sees the same views every time.

    No horizontal flip: for drawings of arrows, hands and flags the mirror image is a
    different thing with a different caption. Written on PIL rather than torchvision, so the
    views depend on the seed alone, whether or not torchvision is installed.
    """

    size: int = 96
    scale: tuple[float, float] = (0.55, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.05
    grayscale: float = 0.2
    rotation: float = 15.0
    background: tuple[int, int, int] = (255, 255, 255)

    def __call__(self, img: Image.Image, rng: np.random.Generator) -> Image.Image:
        im = img if img.mode == "RGB" else img.convert("RGB")
        im = self._rotate(im, rng)
        im = self._resized_crop(im, rng)
        im = self._jitter(im, rng)
        if rng.random() < self.grayscale:
            im = im.convert("L").convert("RGB")
        return im

    def _rotate(self, im: Image.Image, rng: np.random.Generator) -> Image.Image:
        angle = float(rng.uniform(-self.rotation, self.rotation))
        return im.rotate(angle, Image.Resampling.BILINEAR, fillcolor=self.background)

    def _resized_crop(self, im: Image.Image, rng: np.random.Generator) -> Image.Image:
        w, h = im.size
        area = w * h
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(10):
            target = area * float(rng.uniform(*self.scale))
            aspect = math.exp(float(rng.uniform(log_lo, log_hi)))
            cw = round(math.sqrt(target * aspect))
            ch = round(math.sqrt(target / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                x0 = int(rng.integers(0, w - cw + 1))
                y0 = int(rng.integers(0, h - ch + 1))
                box = (x0, y0, x0 + cw, y0 + ch)
                return im.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box)
        return im.resize((self.size, self.size), Image.Resampling.BILINEAR)

    def _jitter(self, im: Image.Image, rng: np.random.Generator) -> Image.Image:
        ops = [
            (ImageEnhance.Brightness, self.brightness),
            (ImageEnhance.Contrast, self.contrast),
            (ImageEnhance.Color, self.saturation),
        ]
        # random order, as colour jitter is usually applied, so no one op always sees the
        # output of the others
        for n in rng.permutation(len(ops)):
            enhancer, amount = ops[int(n)]
            if amount > 0:
                im = enhancer(im).enhance(float(rng.uniform(1 - amount, 1 + amount)))
        if self.hue > 0:
            shift = round(float(rng.uniform(-self.hue, self.hue)) * 255)
            if shift:
                h, s, v = im.convert("HSV").split()
                h = h.point(lambda p: (p + shift) % 256)
                im = Image.merge("HSV", (h, s, v)).convert("RGB")
        return im


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


# -- the two towers ------------------------------------------------------------------------


def _tower(data: Mapping[str, Any]) -> nn.Module:
    kind = data.get("type")
    if kind == "head":
        return ProjectionHead(HeadConfig.from_json(data))
    if kind == "cnn":
        return ConvTower(CnnConfig.from_json(data))
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
