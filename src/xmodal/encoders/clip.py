"""CLIP-family encoders: images and text in one joint space.

Two routes:

- ``clip:MODEL[@TAG_OR_PATH][#onnx|#onnx-int8]``: any open_clip architecture (``ViT-B-32``,
  ``ViT-B-16``, ``MobileCLIP-S2``, SigLIP, ...). ``TAG`` is an open_clip pretrained tag read from
  the local Hugging Face cache; ``PATH`` is a local ``.safetensors`` file or a plain tensor state
  dict; with neither, the model's default tag. ``#onnx`` / ``#onnx-int8`` run exported towers
  with ONNX Runtime (see ``onnx_clip``).
- ``hf-clip:PATH_OR_REPO``: a transformers ``CLIPModel``, ``SiglipModel`` or
  ``ChineseCLIPModel`` saved in a local folder or in the Hugging Face cache.

Weights are never downloaded while indexing or searching: a missing file is an error that names
the fix, and ``pull`` (``xmodal models pull NAME``) is the one place that downloads.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.util
import json
import os
import re
import socket
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole, l2_normalize
from xmodal.encoders.registry import EncoderInfo, register, split_name
from xmodal.errors import UsageError, XmodalError
from xmodal.records import Modality

if TYPE_CHECKING:
    import torch

BACKENDS = ("torch", "onnx", "onnx-int8")
SYNTAX = "clip:MODEL[@TAG_OR_PATH][#onnx|#onnx-int8]"
HF_SYNTAX = "hf-clip:PATH_OR_REPO"
EXAMPLE = "clip:ViT-B-32@laion2b_s34b_b79k"
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
_MODALITIES = frozenset({Modality.IMAGE, Modality.TEXT})

#: what a bare ``clip:MODEL`` means for the architectures people reach for first; any other
#: architecture defaults to its first published tag
DEFAULT_TAGS = {
    "ViT-B-32": "laion2b_s34b_b79k",
    "ViT-B-16": "laion2b_s34b_b88k",
    "ViT-L-14": "laion2b_s32b_b82k",
    "MobileCLIP-S1": "datacompdr",
    "MobileCLIP-S2": "datacompdr",
    "MobileCLIP-B": "datacompdr_lt",
}
#: a bare ``clip`` is the first of these whose default weights are cached
_BARE_PREFERENCE = ("ViT-B-32", "MobileCLIP-S2", "ViT-B-16", "MobileCLIP-S1", "ViT-L-14")
_MISSING_OPEN_CLIP = (
    "the clip encoder needs open_clip and torchvision, which are missing: "
    "reinstall xmodal (pip install -e .)"
)
#: tokenizers whose vocabularies cover many languages
_MULTILINGUAL_HINTS = ("xlm-roberta", "mt5", "nllb", "i18n", "gemma", "multilingual")


# -- names ------------------------------------------------------------------------------------


def looks_like_path(source: str) -> bool:
    """Tags are plain identifiers (``laion2b_s34b_b79k``); anything path-shaped is a file."""
    return (
        source.startswith(("/", "~", "."))
        or "/" in source
        or os.sep in source
        or source.lower().endswith(WEIGHT_SUFFIXES)
    )


@dataclass(frozen=True, slots=True)
class ClipName:
    """``clip:MODEL[@TAG_OR_PATH][#backend]`` taken apart."""

    model: str
    source: str | None = None
    backend: str = "torch"

    @property
    def is_path(self) -> bool:
        return self.source is not None and looks_like_path(self.source)

    def weights_name(self) -> str:
        """The name without a backend: what ``xmodal models pull`` takes."""
        return f"clip:{self.model}" + (f"@{self.source}" if self.source else "")

    def full_name(self) -> str:
        suffix = "" if self.backend == "torch" else f"#{self.backend}"
        return self.weights_name() + suffix


def parse_clip_name(arg: str | None) -> ClipName | None:
    """The parts of a ``clip:`` name; ``None`` for the bare family name ``clip``."""
    if arg is None:
        return None
    rest, backend = arg, "torch"
    head, sep, tail = arg.rpartition("#")
    if sep and tail in BACKENDS:
        rest, backend = head, tail
    elif sep and re.fullmatch(r"[a-z0-9-]+", tail):
        raise UsageError(
            f"unknown backend #{tail} in clip:{arg}; use #onnx or #onnx-int8, or none for PyTorch"
        )
    model, at, source = rest.partition("@")
    model = model.strip()
    if not model:
        raise UsageError(f"clip name needs a model: {SYNTAX}, e.g. {EXAMPLE}")
    if at and not source:
        raise UsageError(f"nothing after '@' in clip:{arg}; {SYNTAX}")
    return ClipName(model, source or None, backend)


# -- the Hugging Face cache -------------------------------------------------------------------


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """Make every Hugging Face call inside fail fast instead of reaching for the network.

    open_clip's text towers built on transformers call ``AutoConfig`` / ``AutoTokenizer``
    without ``local_files_only``; huggingface_hub reads its offline flag once at import, so
    the module constant is what has to change, and only for the duration of a load.
    """
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def hub_cache_dir() -> str:
    try:
        from huggingface_hub import constants
    except ImportError:
        return os.path.expanduser("~/.cache/huggingface/hub")
    return str(constants.HF_HUB_CACHE)


def _cached_hub_file(repo_id: str, filename: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    hit = try_to_load_from_cache(repo_id, filename)
    return Path(hit) if isinstance(hit, str) and os.path.isfile(hit) else None


def _hub_has_anything() -> bool:
    root = hub_cache_dir()
    try:
        return any(e.startswith("models--") for e in os.listdir(root))
    except OSError:
        return False


# -- open_clip weights ------------------------------------------------------------------------


def _open_clip() -> Any:
    try:
        import open_clip
    except ImportError:
        raise XmodalError(_MISSING_OPEN_CLIP) from None
    return open_clip


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def known_models() -> list[str]:
    return list(_open_clip().list_models())


def check_model(model: str) -> None:
    models = known_models()
    if model in models:
        return
    close = difflib.get_close_matches(model, models, n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(close)}?" if close else "e.g. ViT-B-32, ViT-B-16, MobileCLIP-S2"
    )
    raise UsageError(
        f"unknown open_clip model {model!r} ({len(models)} known, see open_clip.list_models()); "
        + hint
    )


def tags_for(model: str) -> list[str]:
    return list(_open_clip().list_pretrained_tags_by_model(model))


def default_tag(model: str) -> str | None:
    tags = tags_for(model)
    if model in DEFAULT_TAGS and DEFAULT_TAGS[model] in tags:
        return DEFAULT_TAGS[model]
    return tags[0] if tags else None


def pretrained_cfg(model: str, tag: str) -> dict[str, Any]:
    cfg = _open_clip().get_pretrained_cfg(model, tag)
    if not cfg:
        tags = tags_for(model)
        known = ", ".join(tags) if tags else "none"
        raise UsageError(
            f"unknown weights tag {tag!r} for clip:{model} (known tags: {known}); "
            f"a local file must be a path: clip:{model}@/path/to/weights.safetensors"
        )
    return dict(cfg)


def hub_candidates(cfg: dict[str, Any]) -> list[tuple[str, str]]:
    """(repo, filename) pairs that hold a tag's weights, safetensors first, as open_clip
    looks for them."""
    hub = str(cfg.get("hf_hub") or "")
    if not hub:
        return []
    repo, filename = os.path.split(hub)
    filename = filename or "open_clip_pytorch_model.bin"
    names = []
    if filename == "open_clip_pytorch_model.bin":
        names.append("open_clip_model.safetensors")
    elif filename.endswith((".bin", ".pth")):
        names.append(filename[:-4] + ".safetensors")
    names.append(filename)
    return [(repo, n) for n in names]


def cached_tag_file(model: str, tag: str) -> Path | None:
    cfg = _open_clip().get_pretrained_cfg(model, tag)
    if not cfg:
        return None
    for repo, filename in hub_candidates(cfg):
        hit = _cached_hub_file(repo, filename)
        if hit is not None:
            return hit
    local = cfg.get("file")
    return Path(local) if local and os.path.isfile(local) else None


def cached_weights() -> list[str]:
    """``clip:MODEL@TAG`` for every open_clip tag whose weights are in the local cache, the
    usual first choices (``_BARE_PREFERENCE`` with their default tags) first."""
    if not _hub_has_anything():
        return []
    oc = _open_clip()
    found = [(m, t) for m, t in oc.list_pretrained() if cached_tag_file(m, t) is not None]
    rank = {(m, DEFAULT_TAGS.get(m)): n for n, m in enumerate(_BARE_PREFERENCE)}
    found.sort(key=lambda mt: rank.get(mt, len(rank)))
    return [f"clip:{m}@{t}" for m, t in found]


def _preprocess_keys() -> set[str]:
    from open_clip.transform import PreprocessCfg

    # the image size belongs to the architecture; open_clip takes it from the model
    return {f.name for f in fields(PreprocessCfg)} - {"size"}


def _tag_preprocess(cfg: dict[str, Any]) -> dict[str, Any]:
    keys = _preprocess_keys()
    return {k: v for k, v in cfg.items() if k in keys}


def _path_preprocess(model: str, path: Path) -> dict[str, Any]:
    """Preprocessing for weights in a file: what a saved open_clip config beside it says,
    else what every published tag of the architecture agrees on, else open_clip's defaults."""
    sidecar = path.parent / "open_clip_config.json"
    if sidecar.is_file():
        try:
            pre = json.loads(sidecar.read_text(encoding="utf-8")).get("preprocess_cfg", {})
        except (OSError, ValueError):
            pre = {}
        keys = _preprocess_keys()
        found = {k: v for k, v in pre.items() if k in keys}
        if found:
            return found
    cfgs = [_tag_preprocess(pretrained_cfg(model, t)) for t in tags_for(model)]
    if cfgs and all(c == cfgs[0] for c in cfgs):
        return cfgs[0]
    return {}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _content_digest(path: Path) -> str:
    # the hub cache stores large files under their sha256, which saves hashing them again
    base = os.path.basename(os.path.realpath(path))
    return base if re.fullmatch(r"[0-9a-f]{64}", base) else file_sha256(path)


@dataclass(frozen=True, slots=True)
class ResolvedWeights:
    """Where a clip name's weights are and what they need."""

    name: ClipName  # the source filled in: a bare model gets its default tag
    file: Path
    label: str  # EncoderSpec.weights: the tag, or the file's sha256[:16]
    digest: str  # sha256 of the bytes, keys the ONNX cache
    preprocess: dict[str, Any]
    quick_gelu: bool


def missing_weights_message(name: str) -> str:
    model = name.removeprefix("clip:").partition("@")[0]
    return (
        f"weights for {name} are not in the cache ({hub_cache_dir()}) and are never downloaded "
        f"while indexing or searching; run `xmodal models pull {name}` on a connected machine "
        f"or pass a local file: clip:{model}@/path/to/weights.safetensors"
    )


def resolve_weights(cn: ClipName) -> ResolvedWeights:
    check_model(cn.model)
    if cn.is_path:
        assert cn.source is not None
        path = Path(os.path.expanduser(cn.source)).absolute()
        if not path.is_file():
            raise XmodalError(f"weights file not found: {path} (named by {cn.full_name()})")
        digest = file_sha256(path)
        return ResolvedWeights(
            name=cn,
            file=path,
            label=digest[:16],
            digest=digest,
            preprocess=_path_preprocess(cn.model, path),
            quick_gelu=False,
        )
    tag = cn.source or default_tag(cn.model)
    if tag is None:
        raise XmodalError(
            f"clip:{cn.model} has no published weights; pass a local file: "
            f"clip:{cn.model}@/path/to/weights.safetensors"
        )
    cfg = pretrained_cfg(cn.model, tag)
    full = replace(cn, source=tag)
    found = cached_tag_file(cn.model, tag)
    if found is None:
        raise XmodalError(missing_weights_message(full.weights_name()))
    return ResolvedWeights(
        name=full,
        file=found,
        label=tag,
        digest=_content_digest(found),
        preprocess=_tag_preprocess(cfg),
        quick_gelu=bool(cfg.get("quick_gelu", False)),
    )


def resolve_bare() -> ResolvedWeights:
    """What the bare name ``clip`` means: the preferred model whose default weights are
    cached, else any cached weights."""
    for model in _BARE_PREFERENCE:
        tag = default_tag(model)
        if tag and cached_tag_file(model, tag) is not None:
            return resolve_weights(ClipName(model, tag))
    cached = cached_weights()
    if cached:
        parsed = parse_clip_name(cached[0].removeprefix("clip:"))
        assert parsed is not None
        return resolve_weights(parsed)
    raise XmodalError(
        f"no CLIP weights are cached; name them as {SYNTAX} (e.g. {EXAMPLE}) after "
        f"`xmodal models pull {EXAMPLE}` on a connected machine, or pass a local file: "
        "clip:MODEL@/path/to/weights.safetensors"
    )


def _one_line(e: BaseException, limit: int = 240) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_plain_state_dict(path: Path) -> None:
    """Refuse a pickled checkpoint unless it holds only tensors and plain containers.

    open_clip's own loader retries ``torch.load`` without ``weights_only`` on a TypeError,
    which a crafted file can provoke; checking here first means that retry never runs.
    """
    import warnings

    import torch

    try:
        # torch warns about pickle protocols before refusing; the refusal says all there is
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _load_weights_only(torch, path)
    except Exception as e:
        raise XmodalError(
            f"refusing to load {path}: it is not a plain tensor checkpoint (torch.load with "
            f"weights_only=True rejected it: {_one_line(e, 160)}); convert it to .safetensors "
            "on a machine you trust"
        ) from None


def _load_weights_only(torch: Any, path: Path) -> None:
    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as e:
        if "mmap" not in str(e):
            raise
        # files written by torch.save's legacy format cannot be memory-mapped
        torch.load(path, map_location="cpu", weights_only=True)


def _hf_text_repos(model: str) -> list[str]:
    """Hugging Face repos an architecture's text tower or tokenizer is read from."""
    cfg = _open_clip().get_model_config(model) or {}
    text = cfg.get("text_cfg", {})
    return sorted({r for r in (text.get("hf_model_name"), text.get("hf_tokenizer_name")) if r})


def get_tokenizer(model: str, weights_name: str | None = None) -> Any:
    """open_clip's tokenizer for ``model``, from files on this machine only."""
    oc = _open_clip()
    kwargs: dict[str, Any] = {}
    repos = _hf_text_repos(model)
    if repos:
        kwargs["local_files_only"] = True
    try:
        with hub_offline():
            return oc.get_tokenizer(model, **kwargs)
    except (OSError, ValueError) as e:
        if not repos:
            raise XmodalError(
                f"cannot build the tokenizer of clip:{model}: {_one_line(e)}"
            ) from None
        name = weights_name or f"clip:{model}"
        raise XmodalError(
            f"the tokenizer of {name} needs {', '.join(repos)} from the Hugging Face cache "
            f"({hub_cache_dir()}), which is missing; run `xmodal models pull {name}` on a "
            "connected machine"
        ) from None


def load_open_clip(w: ResolvedWeights) -> torch.nn.Module:
    """The model with ``w``'s weights loaded, in eval mode, re-parameterised for inference."""
    oc = _open_clip()
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
        repos = _hf_text_repos(w.name.model)
        if repos:
            raise XmodalError(
                f"the text tower of {w.name.weights_name()} needs {', '.join(repos)} from the "
                f"Hugging Face cache, which is missing; run `xmodal models pull "
                f"{w.name.weights_name()}` on a connected machine"
            ) from None
        raise XmodalError(f"cannot load {w.file}: {_one_line(e)}") from None
    except Exception as e:
        raise XmodalError(
            f"cannot load the weights in {w.file} into clip:{w.name.model} ({_one_line(e)}); "
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


def preprocess_cfg_for(w: ResolvedWeights, image_size: Any) -> dict[str, Any]:
    """The preprocessing open_clip gives a model built from ``w``, without building it:
    defaults, the model's image size, then what the weights need."""
    from dataclasses import asdict

    from open_clip.transform import PreprocessCfg

    cfg = asdict(PreprocessCfg())
    cfg["size"] = tuple(image_size) if isinstance(image_size, list) else image_size
    cfg.update(w.preprocess)
    return cfg


def preprocess_record(
    cfg: dict[str, Any], tokenizer: Any, context_length: int, backend: str
) -> dict[str, Any]:
    """What the collection stores about how pixels and words become model inputs."""
    size = cfg["size"]
    hw = [int(size), int(size)] if isinstance(size, int) else [int(s) for s in size]
    mode = str(cfg.get("resize_mode", "shortest"))
    return {
        "library": "open_clip",
        "image_size": hw,
        "resize_mode": mode,
        "crop": {"shortest": "center", "longest": "pad", "squash": "none"}.get(mode, mode),
        "interpolation": str(cfg.get("interpolation", "bicubic")),
        "mean": [float(x) for x in cfg["mean"]],
        "std": [float(x) for x in cfg["std"]],
        "fill_color": int(cfg.get("fill_color", 0)),
        "tokenizer": type(tokenizer).__name__,
        "context_length": int(context_length),
        "backend": backend,
    }


def languages_for(model: str) -> tuple[str, ...]:
    repos = " ".join(_hf_text_repos(model)).lower() + " " + model.lower()
    return ("multilingual",) if any(h in repos for h in _MULTILINGUAL_HINTS) else ("en",)


def image_transform(cfg: dict[str, Any]) -> Callable[[Image.Image], torch.Tensor]:
    """open_clip's evaluation transform for ``cfg``: resize, crop or pad, normalise."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    known = {f.name for f in fields(PreprocessCfg)}
    pp = PreprocessCfg(**{k: v for k, v in cfg.items() if k in known})
    transform: Callable[[Image.Image], torch.Tensor] = image_transform_v2(pp, is_train=False)
    return transform


# -- the encoder ------------------------------------------------------------------------------

Tower = Callable[["torch.Tensor"], np.ndarray]


class ClipEncoder(Encoder):
    """Images and text through two towers into one space; the towers are PyTorch modules
    or ONNX Runtime sessions behind the same preprocessing and tokenizer."""

    #: images per forward pass; set per architecture by ``image_batch_size``
    batch_size = 16
    text_batch_size = 64

    def __init__(
        self,
        spec: EncoderSpec,
        transform: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        image_tower: Tower,
        text_tower: Tower,
        model: torch.nn.Module | None = None,
    ) -> None:
        self._spec = spec
        self._transform = transform
        self._tokenizer = tokenizer
        self._image_tower = image_tower
        self._text_tower = text_tower
        #: the PyTorch model when there is one (benchmarks and exports reach for it)
        self.model = model
        #: where the towers came from and what building them cost (ONNX export, quantisation)
        self.info: dict[str, Any] = {}

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        if not images:
            return np.zeros((0, self._spec.dim), dtype=np.float32)
        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            pixels = torch.stack(
                [self._transform(im if im.mode == "RGB" else im.convert("RGB")) for im in chunk]
            )
            out.append(self._image_tower(pixels))
        return l2_normalize(np.concatenate(out).astype(np.float32, copy=False))

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        # CLIP embeds queries and passages alike: it was trained on captions without roles
        if not texts:
            return np.zeros((0, self._spec.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), self.text_batch_size):
            tokens = self._tokenizer(list(texts[start : start + self.text_batch_size]))
            out.append(self._text_tower(tokens))
        return l2_normalize(np.concatenate(out).astype(np.float32, copy=False))


def torch_towers(model: torch.nn.Module) -> tuple[Tower, Tower]:
    import torch

    m: Any = model

    def image(pixels: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(m.encode_image(pixels).float().numpy())

    def text(tokens: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(m.encode_text(tokens).float().numpy())

    return image, text


def image_batch_size(model_name: str) -> int:
    """Images per forward pass on a CPU: transformer towers gain up to 16 (ViT-B-32: 11 img/s
    at 1, 18 at 16), convolutional timm towers peak lower (MobileCLIP-S2: 11 at 1 and 8, 10 at
    16), measured with benchmarks/clip_cpu.py on 2 cores."""
    cfg = _open_clip().get_model_config(model_name) or {}
    return 8 if "timm_model_name" in cfg.get("vision_cfg", {}) else 16


def embed_dim(model_name: str) -> int:
    cfg = _open_clip().get_model_config(model_name) or {}
    return int(cfg["embed_dim"])


def context_length_of(tokenizer: Any, model_name: str) -> int:
    ctx = getattr(tokenizer, "context_length", None)
    if ctx:
        return int(ctx)
    cfg = _open_clip().get_model_config(model_name) or {}
    return int(cfg.get("text_cfg", {}).get("context_length", 77))


def build_torch_encoder(name: str, w: ResolvedWeights) -> ClipEncoder:
    model = load_open_clip(w)
    m: Any = model
    pp_cfg = dict(m.visual.preprocess_cfg)
    tokenizer = get_tokenizer(w.name.model, w.name.weights_name())
    ctx = context_length_of(tokenizer, w.name.model)
    spec = EncoderSpec(
        name=name,
        weights=w.label if name != "clip" else f"{w.name.model}@{w.label}",
        dim=embed_dim(w.name.model),
        modalities=_MODALITIES,
        preprocessing=preprocess_record(pp_cfg, tokenizer, ctx, "torch"),
        languages=languages_for(w.name.model),
    )
    image, text = torch_towers(model)
    enc = ClipEncoder(spec, image_transform(pp_cfg), tokenizer, image, text, model)
    enc.batch_size = image_batch_size(w.name.model)
    return enc


# -- transformers route -----------------------------------------------------------------------

_HF_TYPES = ("clip", "siglip", "chinese_clip")
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
        h.update(_content_digest(p).encode())
    return h.hexdigest()


def _hf_is_local(arg: str) -> bool:
    # repo ids contain a slash too (org/name), so only an explicit or existing path is local
    return arg.startswith(("/", "~", ".")) or os.path.isdir(os.path.expanduser(arg))


def resolve_hf(arg: str) -> tuple[Path, str]:
    """The folder holding ``arg``'s files and the weights label for the spec."""
    local = Path(os.path.expanduser(arg))
    if _hf_is_local(arg):
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


class HFClipEncoder(Encoder):
    """A transformers CLIP-style dual encoder with its own processor."""

    batch_size = 16
    text_batch_size = 64

    def __init__(self, arg: str) -> None:
        import torch
        from transformers import AutoModel, AutoProcessor

        folder, label = resolve_hf(arg)
        try:
            with hub_offline():
                model: Any = AutoModel.from_pretrained(folder, local_files_only=True)
                processor: Any = AutoProcessor.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as e:
            raise XmodalError(f"cannot load hf-clip:{arg} from {folder}: {_one_line(e)}") from None
        mtype = str(model.config.model_type)
        if mtype not in _HF_TYPES:
            raise UsageError(
                f"hf-clip:{arg} is a {mtype!r} model; hf-clip runs {', '.join(_HF_TYPES)}"
            )
        model.eval()
        self._torch = torch
        self._model = model
        self._processor = processor
        text_cfg = model.config.text_config
        if mtype == "siglip":
            # SigLIP was trained on text padded to its full length; shorter padding shifts vectors
            self._text_kwargs: dict[str, Any] = {
                "padding": "max_length",
                "max_length": int(text_cfg.max_position_embeddings),
                "truncation": True,
            }
        else:
            limit = 52 if mtype == "chinese_clip" else int(text_cfg.max_position_embeddings)
            self._text_kwargs = {"padding": True, "max_length": limit, "truncation": True}
        dim = (
            getattr(model.config, "projection_dim", None) or model.config.vision_config.hidden_size
        )
        image_proc = getattr(processor, "image_processor", processor)
        proc_cfg = image_proc.to_dict()
        languages = ("zh", "en") if mtype == "chinese_clip" else ("en",)
        tokenizer_name = type(getattr(processor, "tokenizer", processor)).__name__
        self._spec = EncoderSpec(
            name=f"hf-clip:{arg}",
            weights=label,
            dim=int(dim),
            modalities=_MODALITIES,
            preprocessing=_jsonable(
                {
                    "library": "transformers",
                    "model_type": mtype,
                    "image_processor": {
                        k: proc_cfg[k] for k in _HF_PROCESSOR_KEYS if k in proc_cfg
                    },
                    "tokenizer": tokenizer_name,
                    "text": self._text_kwargs,
                    "backend": "torch",
                }
            ),
            languages=languages,
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    @staticmethod
    def _features(out: Any) -> np.ndarray:
        # transformers 5 returns a model output whose pooler_output holds the projection
        tensor = out if hasattr(out, "numpy") else out.pooler_output
        return np.asarray(tensor.float().numpy())

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self._spec.dim), dtype=np.float32)
        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = [im.convert("RGB") for im in images[start : start + self.batch_size]]
            inputs = self._processor(images=chunk, return_tensors="pt")
            with self._torch.inference_mode():
                feats = self._model.get_image_features(pixel_values=inputs["pixel_values"])
            out.append(self._features(feats))
        return l2_normalize(np.concatenate(out))

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self._spec.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), self.text_batch_size):
            chunk = list(texts[start : start + self.text_batch_size])
            inputs = self._processor(text=chunk, return_tensors="pt", **self._text_kwargs)
            kwargs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            if self._model.config.model_type == "siglip":
                # SigLIP attends to padding, as in training; a mask would change its vectors
                kwargs.pop("attention_mask", None)
            with self._torch.inference_mode():
                feats = self._model.get_text_features(**kwargs)
            out.append(self._features(feats))
        return l2_normalize(np.concatenate(out))


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
            if mtype in _HF_TYPES:
                found.append("hf-clip:" + repo.name.removeprefix("models--").replace("--", "/"))
                break
    return found


# -- downloading ------------------------------------------------------------------------------


def _ensure_online(name: str) -> None:
    """Fail in well under a second where huggingface_hub would retry for half a minute."""
    from huggingface_hub import constants

    fix = (
        f"run `xmodal models pull {name}` on a connected machine and copy its "
        f"Hugging Face cache ({hub_cache_dir()}) here"
    )
    if constants.HF_HUB_OFFLINE:
        raise XmodalError(f"cannot download {name}: HF_HUB_OFFLINE is set; unset it or {fix}")
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return  # a proxy decides reachability; a direct probe would prove nothing
    host = urllib.parse.urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as e:
        raise XmodalError(
            f"cannot download {name}: {host} is unreachable ({_one_line(e, 80)}); {fix}"
        ) from None


def _verify_blob(path: Path) -> None:
    """Check a downloaded file against the hash the hub cache filed it under."""
    real = Path(os.path.realpath(path))
    base = real.name
    if re.fullmatch(r"[0-9a-f]{64}", base):
        actual = file_sha256(real)
    elif re.fullmatch(r"[0-9a-f]{40}", base):
        data = real.read_bytes()
        actual = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    else:
        return
    if actual != base:
        real.unlink(missing_ok=True)
        raise XmodalError(f"checksum mismatch for {path} (expected {base}); pull it again")


def _tqdm_class(progress: bool) -> Any:
    from tqdm.auto import tqdm

    if progress:
        return tqdm

    class _Silent(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return _Silent


def pull(name: str, progress: bool = True) -> Path:
    """Download the weights ``name`` needs into the Hugging Face cache, check them, and
    return the weights file (``clip:``) or the model folder (``hf-clip:``)."""
    family, arg = split_name(name)
    if family == "hf-clip":
        if not arg:
            raise UsageError(f"pull needs a repo: {HF_SYNTAX}")
        return _pull_hf_repo(arg, progress)
    if family != "clip":
        raise UsageError(
            f"nothing to pull for {name!r}: only {SYNTAX} and {HF_SYNTAX} download weights"
        )
    cn = parse_clip_name(arg)
    if cn is None:
        raise UsageError(f"pull needs a model: {SYNTAX}, e.g. {EXAMPLE}")
    if cn.is_path:
        raise UsageError(f"{name} names a local file; there is nothing to download")
    check_model(cn.model)
    tag = cn.source or default_tag(cn.model)
    if tag is None:
        raise UsageError(f"clip:{cn.model} has no published weights to pull")
    cfg = pretrained_cfg(cn.model, tag)
    display = f"clip:{cn.model}@{tag}"
    cached = cached_tag_file(cn.model, tag)
    if cached is not None and not _hf_text_repos(cn.model):
        _verify_blob(cached)
        return cached
    candidates = hub_candidates(cfg)
    if not candidates:
        raise XmodalError(f"{display} has no Hugging Face hub location to download from")
    _ensure_online(display)
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import RemoteEntryNotFoundError

    path: Path | None = cached
    try:
        for repo, filename in candidates:
            if path is not None:
                break
            try:
                got = hf_hub_download(
                    repo, filename, tqdm_class=_tqdm_class(progress), etag_timeout=10
                )
            except RemoteEntryNotFoundError:
                continue  # no safetensors copy published: the next candidate is the original
            path = Path(got)
        for repo in _hf_text_repos(cn.model):
            snapshot_download(
                repo,
                allow_patterns=["*.json", "*.txt", "*.model", "*.tiktoken"],
                tqdm_class=_tqdm_class(progress),
            )
    except Exception as e:
        raise XmodalError(f"cannot download {display}: {_one_line(e)}") from None
    if path is None:
        raise XmodalError(f"{display}: none of {[f for _, f in candidates]} exist on the hub")
    _verify_blob(path)
    return path


def _pull_hf_repo(repo: str, progress: bool) -> Path:
    if _hf_is_local(repo):
        raise UsageError(f"hf-clip:{repo} names a local folder; there is nothing to download")
    _ensure_online(f"hf-clip:{repo}")
    from huggingface_hub import snapshot_download

    try:
        folder = Path(
            snapshot_download(
                repo,
                allow_patterns=["*.json", "*.txt", "*.model", "*.safetensors"],
                tqdm_class=_tqdm_class(progress),
            )
        )
    except Exception as e:
        raise XmodalError(f"cannot download hf-clip:{repo}: {_one_line(e)}") from None
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        raise XmodalError(f"hf-clip:{repo} has no .safetensors weights; xmodal loads no pickles")
    for w in weights:
        _verify_blob(w)
    return folder


# -- registration -----------------------------------------------------------------------------


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
    if not _installed("open_clip", "torchvision"):
        return False, _MISSING_OPEN_CLIP
    cached = cached_weights()
    if not cached:
        return False, (
            f"{SYNTAX}; no weights cached: `xmodal models pull {EXAMPLE}` on a connected "
            "machine, or clip:MODEL@/path/to/weights.safetensors"
        )
    shown = ", ".join(cached[:4]) + (f" and {len(cached) - 4} more" if len(cached) > 4 else "")
    return True, f"{SYNTAX}; cached: {shown}"


def _hf_available() -> tuple[bool, str]:
    if not _installed("transformers", "torch"):
        return False, "hf-clip needs transformers and torch: reinstall xmodal (pip install -e .)"
    cached = cached_hf_models()
    if not cached:
        return False, f"{HF_SYNTAX}; none cached: pass a local folder or pull a repo"
    return True, f"{HF_SYNTAX}; cached: {', '.join(cached[:4])}"


@register(
    EncoderInfo(
        family="clip",
        description=f"open_clip models ({SYNTAX}); images and text in one space",
        modalities=_MODALITIES,
        dim=None,
        languages=("en", "multilingual"),
        size="depends on MODEL",
        available=_clip_available,
    )
)
def _make_clip(arg: str | None) -> Encoder:
    cn = parse_clip_name(arg)
    if cn is None:
        w = resolve_bare()
        name = "clip"
    else:
        w = resolve_weights(cn)
        name = f"clip:{arg}"
    if w.name.backend == "torch":
        return build_torch_encoder(name, w)
    from xmodal.encoders.onnx_clip import build_onnx_encoder

    return build_onnx_encoder(name, w)


@register(
    EncoderInfo(
        family="hf-clip",
        description=f"transformers CLIP / SigLIP / Chinese-CLIP ({HF_SYNTAX}); images and text",
        modalities=_MODALITIES,
        dim=None,
        languages=("en", "zh"),
        size="depends on the model",
        available=_hf_available,
    )
)
def _make_hf_clip(arg: str | None) -> Encoder:
    if not arg:
        raise UsageError(f"name the model: {HF_SYNTAX}")
    return HFClipEncoder(arg)
