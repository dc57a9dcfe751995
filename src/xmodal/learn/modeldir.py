"""The on-disk form of every trained model: one directory, numbers and JSON only.

::

    DIR/model.safetensors   the weights (a torch state dict or a baseline's arrays)
    DIR/config.json         method, architecture, the frozen encoders and their fingerprints,
                            preprocessing, the training configuration and its metrics

``config.json`` is written last, so a directory with one is complete. Nothing in it is
unpickled: safetensors holds only tensors, JSON only data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.errors import XmodalError
from xmodal.learn._io import (
    file_digest,
    load_numpy_safetensors,
    save_numpy_safetensors,
    write_json,
)

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "xmodal-joint"
FORMAT_VERSION = 1


def write_model_dir(
    out: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], config: Mapping[str, Any]
) -> Path:
    """Write the weights, then the config (the commit marker); returns the directory."""
    root = Path(out).expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    for key, a in arrays.items():
        if a.dtype.kind not in "iuf":
            raise ValueError(f"array {key!r} is not numeric")
    save_numpy_safetensors(root / MODEL_FILE, arrays, {"format": FORMAT})
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, **config}
    body["weights_sha256"] = file_digest(root / MODEL_FILE)
    write_json(root / CONFIG_FILE, body)
    return root


def read_model_dir(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The config and the weights of a model directory; anything else is an ``XmodalError``
    that says what is wrong."""
    root = Path(path).expanduser()
    cfg_path, weights = root / CONFIG_FILE, root / MODEL_FILE
    if not cfg_path.is_file() or not weights.is_file():
        raise XmodalError(
            f"{root} is not a trained model directory (needs {CONFIG_FILE} and {MODEL_FILE}); "
            "make one with `xmodal train` or xmodal.learn.train"
        )
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise XmodalError(f"{cfg_path} is not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise XmodalError(f"{cfg_path} does not describe an xmodal trained model")
    if int(config.get("format_version", 0)) != FORMAT_VERSION:
        raise XmodalError(
            f"{cfg_path}: model format {config.get('format_version')}, "
            f"this version reads {FORMAT_VERSION}"
        )
    try:
        arrays = load_numpy_safetensors(weights)
    except Exception as e:  # the header and every tensor are the user's input
        raise XmodalError(f"{weights} is not a readable safetensors file ({e})") from None
    for key, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise XmodalError(f"{weights}: array {key!r} holds non-finite numbers")
    return config, arrays


def weights_tag(path: str | os.PathLike[str]) -> str:
    """Hash of the weights file: the ``weights`` of the space a model makes."""
    return file_digest(Path(path).expanduser() / MODEL_FILE)
