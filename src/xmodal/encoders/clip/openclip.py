"""The open_clip route: building an architecture with resolved weights, its tokenizer, and the
clip encoder that runs it in PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.encoders.base import EncoderSpec
from xmodal.encoders.clip.encoder import ClipEncoder, Tokens, Tower, pixels_for, preprocess_record
from xmodal.encoders.clip.hub import hub_cache_dir, hub_offline
from xmodal.encoders.clip.names import MODALITIES, one_line
from xmodal.encoders.clip.weights import (
    ResolvedWeights,
    check_plain_state_dict,
    hf_text_repos,
    model_config,
    open_clip_module,
)
from xmodal.errors import XmodalError

if TYPE_CHECKING:
    import torch

#: tokenizers whose vocabularies cover many languages
_MULTILINGUAL_HINTS = ("xlm-roberta", "mt5", "nllb", "i18n", "gemma", "multilingual")


def get_tokenizer(model: str, weights_name: str | None = None) -> Any:
    """open_clip's tokenizer for ``model``, from files on this machine only."""
    oc = open_clip_module()
    kwargs: dict[str, Any] = {}
    repos = hf_text_repos(model)
    if repos:
        kwargs["local_files_only"] = True
    try:
        with hub_offline():
            return oc.get_tokenizer(model, **kwargs)
    except (OSError, ValueError) as e:
        if not repos:
            raise XmodalError(
                f"cannot build the tokenizer of clip:{model}: {one_line(e)}"
            ) from None
        name = weights_name or f"clip:{model}"
        raise XmodalError(
            f"the tokenizer of {name} needs {', '.join(repos)} from the Hugging Face cache "
            f"({hub_cache_dir()}), which is missing; run `xmodal models pull {name}` on a "
            "connected machine"
        ) from None


def load_open_clip(w: ResolvedWeights) -> torch.nn.Module:
    """The model with ``w``'s weights loaded, in eval mode, re-parameterised for inference."""
    oc = open_clip_module()
    if w.file.suffix != ".safetensors":
        check_plain_state_dict(w.file)
    try:
        with hub_offline():
            model = oc.create_model(
                w.name.model,
                pretrained=str(w.file),
                force_quick_gelu=w.quick_gelu,
                force_preprocess_cfg=w.preprocess or None,
                pretrained_image=False,
                pretrained_text=False,
                weights_only=True,
                device="cpu",
            )
    except XmodalError:
        raise
    except OSError as e:
        repos = hf_text_repos(w.name.model)
        if repos:
            raise XmodalError(
                f"the text tower of {w.name.weights_name()} needs {', '.join(repos)} from the "
                f"Hugging Face cache, which is missing; run `xmodal models pull "
                f"{w.name.weights_name()}` on a connected machine"
            ) from None
        raise XmodalError(f"cannot load {w.file}: {one_line(e)}") from None
    except Exception as e:
        raise XmodalError(
            f"cannot load the weights in {w.file} into clip:{w.name.model} ({one_line(e)}); "
            "check the file and the MODEL part of the name"
        ) from None
    model.eval()
    reparameterize(model)
    return model


def reparameterize(model: torch.nn.Module) -> None:
    """Fold MobileOne / FastViT training branches (MobileCLIP's image towers) into single
    convolutions: the same function, fewer operations."""
    visual = getattr(model, "visual", None)
    if visual is None:
        return
    if not any(
        hasattr(m, "reparameterize") or hasattr(m, "switch_to_deploy") for m in visual.modules()
    ):
        return
    from timm.utils.model import reparameterize_model

    reparameterize_model(visual, inplace=True)


def languages_for(model: str) -> tuple[str, ...]:
    repos = " ".join(hf_text_repos(model)).lower() + " " + model.lower()
    return ("multilingual",) if any(h in repos for h in _MULTILINGUAL_HINTS) else ("en",)


def image_batch_size(model_name: str) -> int:
    """Images per forward pass on a CPU: transformer towers gain up to 16 (ViT-B-32: 11 img/s
    at 1, 18 at 16), convolutional timm towers peak lower (MobileCLIP-S2: 11 at 1 and 8, 10 at
    16), measured with benchmarks/clip_cpu.py on 2 cores."""
    return 8 if "timm_model_name" in model_config(model_name).get("vision_cfg", {}) else 16


def embed_dim(model_name: str) -> int:
    return int(model_config(model_name)["embed_dim"])


def context_length_of(tokenizer: Any, model_name: str) -> int:
    ctx = getattr(tokenizer, "context_length", None)
    if ctx:
        return int(ctx)
    return int(model_config(model_name).get("text_cfg", {}).get("context_length", 77))


def assemble_encoder(
    name: str,
    w: ResolvedWeights,
    pp_cfg: dict[str, Any],
    tokenizer: Any,
    towers: tuple[Tower, Tower],
    backend: str,
    model: torch.nn.Module | None = None,
    tokens: Tokens | None = None,
) -> ClipEncoder:
    """The clip encoder ``name`` for ``w`` around ``towers``, whatever runs them; the
    backend is recorded with the preprocessing, so each backend makes its own space.
    ``tokens`` replaces open_clip's ``tokenizer`` where one that gives the same ids exists."""
    ctx = context_length_of(tokenizer, w.name.model)
    spec = EncoderSpec(
        name=name,
        weights=w.label if name != "clip" else f"{w.name.model}@{w.label}",
        dim=embed_dim(w.name.model),
        modalities=MODALITIES,
        preprocessing=preprocess_record(pp_cfg, tokenizer, ctx, backend),
        languages=languages_for(w.name.model),
    )
    image, text = towers
    enc = ClipEncoder(
        spec, pixels_for(pp_cfg), tokens or torch_tokens(tokenizer), image, text, model
    )
    enc.batch_size = image_batch_size(w.name.model)
    return enc


def torch_tokens(tokenizer: Any) -> Tokens:
    """open_clip's tokenizer with its tensor of ids as an array."""
    return lambda texts: np.asarray(tokenizer(texts).numpy(), dtype=np.int64)


def torch_towers(model: torch.nn.Module) -> tuple[Tower, Tower]:
    import torch

    m: Any = model

    def tower(forward: Callable[[torch.Tensor], torch.Tensor]) -> Tower:
        def run(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return np.asarray(forward(torch.from_numpy(x)).float().numpy())

        return run

    return tower(m.encode_image), tower(m.encode_text)


def build_torch_encoder(name: str, w: ResolvedWeights) -> ClipEncoder:
    model = load_open_clip(w)
    m: Any = model
    pp_cfg = dict(m.visual.preprocess_cfg)
    tokenizer = get_tokenizer(w.name.model, w.name.weights_name())
    return assemble_encoder(name, w, pp_cfg, tokenizer, torch_towers(model), "torch", model)
