"""Where a clip name's weights are, what they need, and whether they are safe to load.

The open_clip catalogue (architectures, published tags and their hub locations) is read here,
weights are found in the local Hugging Face cache or a user's file, and every file is checked
before torch sees it: pickles must hold only tensors, downloads must match their hashes.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from xmodal.atomic import atomic_write_text
from xmodal.encoders.clip.hub import cached_hub_file, hub_cache_dir, hub_has_anything
from xmodal.encoders.clip.names import EXAMPLE, SYNTAX, ClipName, one_line, parse_clip_name
from xmodal.errors import UsageError, XmodalError
from xmodal.hashing import sha256_file
from xmodal.paths import cache_dir

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
BARE_PREFERENCE = ("ViT-B-32", "MobileCLIP-S2", "ViT-B-16", "MobileCLIP-S1", "ViT-L-14")
MISSING_OPEN_CLIP = (
    "the clip encoder needs open_clip and torchvision, which are missing: "
    "reinstall xmodal (pip install -e .)"
)


# -- the open_clip catalogue ------------------------------------------------------------------


def open_clip_module() -> Any:
    try:
        import open_clip
    except ImportError:
        raise XmodalError(MISSING_OPEN_CLIP) from None
    return open_clip


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def known_models() -> list[str]:
    return list(open_clip_module().list_models())


def model_config(model: str) -> dict[str, Any]:
    """open_clip's architecture config of ``model``; empty when it has none."""
    return dict(open_clip_module().get_model_config(model) or {})


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
    return list(open_clip_module().list_pretrained_tags_by_model(model))


def default_tag(model: str) -> str | None:
    tags = tags_for(model)
    if model in DEFAULT_TAGS and DEFAULT_TAGS[model] in tags:
        return DEFAULT_TAGS[model]
    return tags[0] if tags else None


def pretrained_cfg(model: str, tag: str) -> dict[str, Any]:
    cfg = open_clip_module().get_pretrained_cfg(model, tag)
    if not cfg:
        tags = tags_for(model)
        known = ", ".join(tags) if tags else "none"
        raise UsageError(
            f"unknown weights tag {tag!r} for clip:{model} (known tags: {known}); "
            f"a local file must be a path: clip:{model}@/path/to/weights.safetensors"
        )
    return dict(cfg)


def hf_text_repos(model: str) -> list[str]:
    """Hugging Face repos an architecture's text tower or tokenizer is read from."""
    text = model_config(model).get("text_cfg", {})
    return sorted({r for r in (text.get("hf_model_name"), text.get("hf_tokenizer_name")) if r})


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
    cfg = open_clip_module().get_pretrained_cfg(model, tag)
    if not cfg:
        return None
    for repo, filename in hub_candidates(cfg):
        hit = cached_hub_file(repo, filename)
        if hit is not None:
            return hit
    local = cfg.get("file")
    return Path(local) if local and os.path.isfile(local) else None


def cached_weights() -> list[str]:
    """``clip:MODEL@TAG`` for every open_clip tag whose weights are in the local cache, the
    usual first choices (``BARE_PREFERENCE`` with their default tags) first."""
    if not hub_has_anything():
        return []
    oc = open_clip_module()
    found = [(m, t) for m, t in oc.list_pretrained() if cached_tag_file(m, t) is not None]
    rank = {(m, DEFAULT_TAGS.get(m)): n for n, m in enumerate(BARE_PREFERENCE)}
    found.sort(key=lambda mt: rank.get(mt, len(rank)))
    return [f"clip:{m}@{t}" for m, t in found]


# -- preprocessing the weights were trained with ---------------------------------------------


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


# -- checksums --------------------------------------------------------------------------------


def _hash_book() -> Path:
    return cache_dir() / "weights-sha256.json"


def cached_sha256(path: Path) -> str:
    """sha256 of ``path``, hashed once per (path, size, modification time): a weights file of
    hundreds of megabytes is read whole by every hash, and a search should not pay for that.

    The book of known hashes is one small JSON file; two processes writing it at once lose
    at most an entry, which the next load hashes again."""
    real = os.path.realpath(path)
    st = os.stat(real)
    key = [st.st_size, st.st_mtime_ns]
    book_path = _hash_book()
    try:
        book = json.loads(book_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        book = {}
    if not isinstance(book, dict):
        book = {}
    entry = book.get(real)
    if isinstance(entry, list) and len(entry) == 3 and entry[:2] == key:
        return str(entry[2])
    digest = sha256_file(Path(real))
    book[real] = [*key, digest]
    try:
        book_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(book_path, json.dumps(book, indent=0, sort_keys=True))
    except OSError:
        pass  # a read-only cache costs a hash per load, nothing more
    return digest


def content_digest(path: Path) -> str:
    # the hub cache stores large files under their sha256, which saves hashing them again
    base = os.path.basename(os.path.realpath(path))
    return base if re.fullmatch(r"[0-9a-f]{64}", base) else cached_sha256(path)


def verify_blob(path: Path) -> None:
    """Check a downloaded file against the hash the hub cache filed it under."""
    real = Path(os.path.realpath(path))
    base = real.name
    if re.fullmatch(r"[0-9a-f]{64}", base):
        actual = sha256_file(real)
    elif re.fullmatch(r"[0-9a-f]{40}", base):
        data = real.read_bytes()
        actual = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    else:
        return
    if actual != base:
        real.unlink(missing_ok=True)
        raise XmodalError(f"checksum mismatch for {path} (expected {base}); pull it again")


# -- resolution -------------------------------------------------------------------------------


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


def _resolve_path(cn: ClipName) -> ResolvedWeights:
    assert cn.source is not None
    path = Path(os.path.expanduser(cn.source)).absolute()
    if not path.is_file():
        raise XmodalError(f"weights file not found: {path} (named by {cn.full_name()})")
    digest = cached_sha256(path)
    return ResolvedWeights(
        name=cn,
        file=path,
        label=digest[:16],
        digest=digest,
        preprocess=_path_preprocess(cn.model, path),
        quick_gelu=False,
    )


def resolve_weights(cn: ClipName) -> ResolvedWeights:
    check_model(cn.model)
    if cn.is_path:
        return _resolve_path(cn)
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
        digest=content_digest(found),
        preprocess=_tag_preprocess(cfg),
        quick_gelu=bool(cfg.get("quick_gelu", False)),
    )


def resolve_bare() -> ResolvedWeights:
    """What the bare name ``clip`` means: the preferred model whose default weights are
    cached, else any cached weights."""
    for model in BARE_PREFERENCE:
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


# -- loading safely ---------------------------------------------------------------------------


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
            f"weights_only=True rejected it: {one_line(e, 160)}); convert it to .safetensors "
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
