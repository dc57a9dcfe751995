"""The transformers route: ``hf-clip:PATH_OR_REPO``, a ``CLIPModel``, ``SiglipModel`` or
``ChineseCLIPModel`` saved in a local folder or in the Hugging Face cache, with its own
processor."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole
from xmodal.encoders.clip.encoder import encode_in_batches
from xmodal.encoders.clip.hub import hub_cache_dir, hub_offline
from xmodal.encoders.clip.names import MODALITIES, hf_is_local, one_line
from xmodal.encoders.clip.weights import content_digest
from xmodal.errors import UsageError, XmodalError

HF_TYPES = ("clip", "siglip", "chinese_clip")
_HF_PROCESSOR_KEYS = (
    "do_resize",
    "size",
    "resample",
    "do_center_crop",
    "crop_size",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "image_mean",
    "image_std",
    "do_convert_rgb",
)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _dir_digest(folder: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
    if not files:
        raise XmodalError(f"no weights (.safetensors) in {folder}")
    for p in files:
        h.update(p.name.encode())
        h.update(content_digest(p).encode())
    return h.hexdigest()


def resolve_hf(arg: str) -> tuple[Path, str]:
    """The folder holding ``arg``'s files and the weights label for the spec."""
    local = Path(os.path.expanduser(arg))
    if hf_is_local(arg):
        folder = local.absolute()
        if not (folder / "config.json").is_file():
            raise XmodalError(f"no transformers model (config.json) in {folder}")
        return folder, _dir_digest(folder)[:16]
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        raise XmodalError("hf-clip needs huggingface_hub: pip install huggingface_hub") from None
    try:
        snap = Path(snapshot_download(arg, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        snap = None
    if snap is None or not (snap / "config.json").is_file():
        raise XmodalError(
            f"hf-clip:{arg} is not in the cache ({hub_cache_dir()}) and is never downloaded "
            f"while indexing or searching; run `xmodal models pull hf-clip:{arg}` on a "
            "connected machine or pass a local folder: hf-clip:/path/to/model"
        )
    return snap, f"{arg}@{snap.name[:12]}"


def _text_kwargs(mtype: str, text_cfg: Any) -> dict[str, Any]:
    """How the processor pads and truncates text for a model of type ``mtype``."""
    if mtype == "siglip":
        # SigLIP was trained on text padded to its full length; shorter padding shifts vectors
        return {
            "padding": "max_length",
            "max_length": int(text_cfg.max_position_embeddings),
            "truncation": True,
        }
    limit = 52 if mtype == "chinese_clip" else int(text_cfg.max_position_embeddings)
    return {"padding": True, "max_length": limit, "truncation": True}


def _load(arg: str, folder: Path) -> tuple[Any, Any]:
    """The model (in eval mode) and processor saved in ``folder``."""
    from transformers import AutoModel, AutoProcessor

    try:
        with hub_offline():
            model: Any = AutoModel.from_pretrained(folder, local_files_only=True)
            processor: Any = AutoProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as e:
        raise XmodalError(f"cannot load hf-clip:{arg} from {folder}: {one_line(e)}") from None
    mtype = str(model.config.model_type)
    if mtype not in HF_TYPES:
        raise UsageError(f"hf-clip:{arg} is a {mtype!r} model; hf-clip runs {', '.join(HF_TYPES)}")
    model.eval()
    return model, processor


def _spec(arg: str, label: str, model: Any, processor: Any, text: dict[str, Any]) -> EncoderSpec:
    mtype = str(model.config.model_type)
    dim = getattr(model.config, "projection_dim", None) or model.config.vision_config.hidden_size
    image_proc = getattr(processor, "image_processor", processor)
    proc_cfg = image_proc.to_dict()
    languages = ("zh", "en") if mtype == "chinese_clip" else ("en",)
    tokenizer_name = type(getattr(processor, "tokenizer", processor)).__name__
    return EncoderSpec(
        name=f"hf-clip:{arg}",
        weights=label,
        dim=int(dim),
        modalities=MODALITIES,
        preprocessing=_jsonable(
            {
                "library": "transformers",
                "model_type": mtype,
                "image_processor": {k: proc_cfg[k] for k in _HF_PROCESSOR_KEYS if k in proc_cfg},
                "tokenizer": tokenizer_name,
                "text": text,
                "backend": "torch",
            }
        ),
        languages=languages,
    )


class HFClipEncoder(Encoder):
    """A transformers CLIP-style dual encoder with its own processor."""

    batch_size = 16
    text_batch_size = 64

    def __init__(self, arg: str) -> None:
        import torch

        folder, label = resolve_hf(arg)
        model, processor = _load(arg, folder)
        self._torch = torch
        self._model = model
        self._processor = processor
        self._text_kwargs = _text_kwargs(str(model.config.model_type), model.config.text_config)
        self._spec = _spec(arg, label, model, processor, self._text_kwargs)

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    @staticmethod
    def _features(out: Any) -> np.ndarray:
        # transformers 5 returns a model output whose pooler_output holds the projection
        tensor = out if hasattr(out, "numpy") else out.pooler_output
        return np.asarray(tensor.float().numpy())

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        def run(chunk: Sequence[Image.Image]) -> np.ndarray:
            inputs = self._processor(
                images=[im.convert("RGB") for im in chunk], return_tensors="pt"
            )
            with self._torch.inference_mode():
                feats = self._model.get_image_features(pixel_values=inputs["pixel_values"])
            return self._features(feats)

        return encode_in_batches(images, self.batch_size, self._spec.dim, run)

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        def run(chunk: Sequence[str]) -> np.ndarray:
            inputs = self._processor(text=list(chunk), return_tensors="pt", **self._text_kwargs)
            kwargs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            if self._model.config.model_type == "siglip":
                # SigLIP attends to padding, as in training; a mask would change its vectors
                kwargs.pop("attention_mask", None)
            with self._torch.inference_mode():
                feats = self._model.get_text_features(**kwargs)
            return self._features(feats)

        return encode_in_batches(texts, self.text_batch_size, self._spec.dim, run)


def cached_hf_models() -> list[str]:
    """``hf-clip:REPO`` for every CLIP-style transformers model in the local cache."""
    root = Path(hub_cache_dir())
    found = []
    try:
        repos = sorted(p for p in root.iterdir() if p.name.startswith("models--"))
    except OSError:
        return []
    for repo in repos:
        for cfg in (repo / "snapshots").glob("*/config.json"):
            try:
                mtype = json.loads(cfg.read_text(encoding="utf-8")).get("model_type")
            except (OSError, ValueError):
                continue
            if mtype in HF_TYPES:
                found.append("hf-clip:" + repo.name.removeprefix("models--").replace("--", "/"))
                break
    return found
