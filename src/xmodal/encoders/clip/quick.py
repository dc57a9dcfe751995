"""A clip encoder on ONNX Runtime built from its export alone: no open_clip, torch or
transformers, and no hashing of a weights file seen before.

The first load of ``clip:MODEL@FILE#onnx`` goes the long way (open_clip resolves the weights,
exports the towers) and keeps in the export's ``meta.json`` what it learnt: the space's
dimension, preprocessing and languages, and the tokenizer as a ``tokenizers`` file. A later
process finds the export by the file's hash, which ``weights.cached_sha256`` keeps by path,
size and modification time, and builds the same encoder from what was kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from xmodal.encoders.base import EncoderSpec
from xmodal.encoders.clip.encoder import ClipEncoder
from xmodal.encoders.clip.names import MODALITIES, ClipName
from xmodal.encoders.clip.onnx import export_dir_for, lazy_towers, read_meta, tokens_file
from xmodal.encoders.clip.pixels import pixel_transform
from xmodal.encoders.clip.tokens import load_tokens
from xmodal.encoders.clip.weights import cached_sha256


def _record(cn: ClipName) -> tuple[Path, dict[str, Any], dict[str, Any]] | None:
    """The export folder, its meta and the kept encoder record for ``cn``, if usable."""
    if cn.backend == "torch" or not cn.is_path or cn.source is None:
        return None
    path = Path(os.path.expanduser(cn.source)).absolute()
    # preprocessing saved beside the file is read by the long way only
    if not path.is_file() or (path.parent / "open_clip_config.json").exists():
        return None
    folder = export_dir_for(cn.model, False, cached_sha256(path))
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
    folder, _, record = found
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
    image, text = lazy_towers(folder, cn.backend, info)
    enc = ClipEncoder(spec, pixels, tokens, image, text)
    enc.batch_size = batch
    enc.info = info
    return enc
