"""A clip encoder on ONNX Runtime built from its export alone: no open_clip, torch or
transformers, and no hashing of a weights file seen before.

The first load of ``clip:MODEL@FILE#onnx`` (or ``clip:MODEL@TAG#onnx``) goes the long way
(open_clip resolves the weights, exports the towers) and keeps in the export's ``meta.json``
what it learnt: the space's dimension, preprocessing and languages, and the tokenizer as a
``tokenizers`` file. A later process finds the export of a file by its hash, which
``weights.cached_sha256`` keeps by path, size and modification time, and the export of a tag
by the book ``onnx.remember_tag`` keeps (the hub file, its size, time and commit), and builds
the same encoder from what was kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from xmodal.encoders.base import EncoderSpec
from xmodal.encoders.clip.encoder import ClipEncoder
from xmodal.encoders.clip.names import MODALITIES, ClipName
from xmodal.encoders.clip.onnx import (
    export_dir_for,
    lazy_towers,
    read_meta,
    tag_export,
    tokens_file,
)
from xmodal.encoders.clip.pixels import pixel_transform
from xmodal.encoders.clip.tokens import load_tokens
from xmodal.encoders.clip.weights import cached_sha256


def _folder(cn: ClipName) -> Path | None:
    """Where the export of ``cn`` would be, found without open_clip."""
    if not cn.is_path:
        # a tag (or a bare model: its default tag) was resolved by the long way before
        return tag_export(cn.model + (f"@{cn.source}" if cn.source else ""))
    assert cn.source is not None
    path = Path(os.path.expanduser(cn.source)).absolute()
    # preprocessing saved beside the file is read by the long way only
    if not path.is_file() or (path.parent / "open_clip_config.json").exists():
        return None
    return export_dir_for(cn.model, False, cached_sha256(path))


def _record(cn: ClipName) -> tuple[Path, dict[str, Any], dict[str, Any]] | None:
    """The export folder, its meta and the kept encoder record for ``cn``, if usable."""
    if cn.backend == "torch":
        return None
    folder = _folder(cn)
    if folder is None:
        return None
    meta = read_meta(folder)
    record = meta.get("encoder") if meta else None
    if meta is None or not isinstance(record, dict) or not record.get("tokens"):
        return None
    return folder, meta, record


def quick_onnx_encoder(name: str, cn: ClipName) -> ClipEncoder | None:
    """The encoder ``name`` from a kept export; None when the long way has to run."""
    found = _record(cn)
    if found is None:
        return None
    folder, meta, record = found
    try:
        pixels = pixel_transform(record["pp_cfg"])
        pre = dict(record["preprocessing"])
        tokens = load_tokens(tokens_file(folder), int(pre["context_length"]))
        spec = EncoderSpec(
            name=name,
            weights=str(record["weights"]),
            dim=int(record["dim"]),
            modalities=MODALITIES,
            preprocessing={**pre, "backend": cn.backend},
            languages=tuple(record["languages"]),
        )
        batch = int(record["batch_size"])
    except (KeyError, TypeError, ValueError):
        return None
    if pixels is None or tokens is None:
        return None
    info: dict[str, Any] = {"onnx_dir": str(folder)}
    image, text = lazy_towers(folder, cn.backend, info, bool(meta.get("text_trim")))
    enc = ClipEncoder(spec, pixels, tokens, image, text)
    enc.batch_size = batch
    enc.info = info
    return enc
