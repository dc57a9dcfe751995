"""CLIP-family encoders: images and text in one joint space.

Two routes:

- ``clip:MODEL[@TAG_OR_PATH][#onnx|#onnx-int8]``: any open_clip architecture (``ViT-B-32``,
  ``ViT-B-16``, ``MobileCLIP-S2``, SigLIP, ...). ``TAG`` is an open_clip pretrained tag read from
  the local Hugging Face cache; ``PATH`` is a local ``.safetensors`` file or a plain tensor state
  dict; with neither, the model's default tag. ``#onnx`` / ``#onnx-int8`` run exported towers
  with ONNX Runtime (see ``onnx``).
- ``hf-clip:PATH_OR_REPO``: a transformers ``CLIPModel``, ``SiglipModel`` or
  ``ChineseCLIPModel`` saved in a local folder or in the Hugging Face cache.

Weights are never downloaded while indexing or searching: a missing file is an error that names
the fix, and ``pull`` (``xmodal models pull NAME``) is the one place that downloads.

The modules depend one way: ``names`` <- ``hub`` <- ``weights`` <- ``pixels`` <- ``encoder`` <-
``openclip`` <- ``tokens``, ``towers``, ``fuse`` <- ``runtime`` <- ``onnx`` <- ``quick``,
``hf``; ``pull`` and the registration here sit on top. ``quick`` builds an exported model
without open_clip or torch.
"""

from __future__ import annotations

from collections.abc import Callable

from xmodal.encoders.base import Encoder
from xmodal.encoders.clip.hf import HFClipEncoder, cached_hf_models
from xmodal.encoders.clip.names import (
    EXAMPLE,
    HF_SYNTAX,
    MODALITIES,
    SYNTAX,
    ClipName,
    parse_clip_name,
)
from xmodal.encoders.clip.onnx import build_onnx_encoder
from xmodal.encoders.clip.openclip import build_torch_encoder
from xmodal.encoders.clip.pull import pull
from xmodal.encoders.clip.quick import quick_onnx_encoder
from xmodal.encoders.clip.weights import (
    MISSING_OPEN_CLIP,
    cached_weights,
    installed,
    resolve_bare,
    resolve_weights,
)
from xmodal.encoders.registry import EncoderInfo, register, split_name
from xmodal.errors import UsageError

__all__ = [
    "ClipName",
    "build_torch_encoder",
    "cached_weights",
    "load",
    "parse_clip_name",
    "pull",
    "resolve_weights",
]


def load(name: str) -> Encoder:
    """Build the encoder ``name`` (``clip...`` or ``hf-clip:...``) afresh, bypassing the
    registry's once-per-process cache; for benchmarks and tools that compare loads."""
    family, arg = split_name(name)
    if family == "clip":
        return _make_clip(arg)
    if family == "hf-clip":
        return _make_hf_clip(arg)
    raise UsageError(f"{name!r} is not a clip name: {SYNTAX} or {HF_SYNTAX}")


def _clip_available() -> tuple[bool, str]:
    # find_spec, not import: listing models should not pay for importing torch
    if not installed("open_clip", "torchvision"):
        return False, MISSING_OPEN_CLIP
    cached = cached_weights()
    if not cached:
        return False, (
            f"{SYNTAX}; no weights cached: `xmodal models pull {EXAMPLE}` on a connected "
            "machine, or clip:MODEL@/path/to/weights.safetensors"
        )
    shown = ", ".join(cached[:4]) + (f" and {len(cached) - 4} more" if len(cached) > 4 else "")
    return True, f"{SYNTAX}; cached: {shown}"


def _hf_available() -> tuple[bool, str]:
    if not installed("transformers", "torch"):
        return False, "hf-clip needs transformers and torch: reinstall xmodal (pip install -e .)"
    cached = cached_hf_models()
    if not cached:
        return False, f"{HF_SYNTAX}; none cached: pass a local folder or pull a repo"
    return True, f"{HF_SYNTAX}; cached: {', '.join(cached[:4])}"


def _joint_space(
    family: str,
    description: str,
    languages: tuple[str, ...],
    size: str,
    available: Callable[[], tuple[bool, str]],
) -> EncoderInfo:
    """What ``models list`` shows for a family that puts images and text in one space whose
    dimension depends on the model named."""
    return EncoderInfo(
        family=family,
        description=description,
        modalities=MODALITIES,
        dim=None,
        languages=languages,
        size=size,
        available=available,
        pull=pull,
    )


@register(
    _joint_space(
        "clip",
        f"open_clip models ({SYNTAX}); images and text in one space",
        ("en", "multilingual"),
        "depends on MODEL",
        _clip_available,
    )
)
def _make_clip(arg: str | None) -> Encoder:
    cn = parse_clip_name(arg)
    quick = None if cn is None else quick_onnx_encoder(f"clip:{arg}", cn)
    if quick is not None:
        return quick
    if cn is None:
        w = resolve_bare()
        name = "clip"
    else:
        w = resolve_weights(cn)
        name = f"clip:{arg}"
    if w.name.backend == "torch":
        return build_torch_encoder(name, w)
    return build_onnx_encoder(name, w)


@register(
    _joint_space(
        "hf-clip",
        f"transformers CLIP / SigLIP / Chinese-CLIP ({HF_SYNTAX}); images and text",
        ("en", "zh"),
        "depends on the model",
        _hf_available,
    )
)
def _make_hf_clip(arg: str | None) -> Encoder:
    if not arg:
        raise UsageError(f"name the model: {HF_SYNTAX}")
    return HFClipEncoder(arg)
