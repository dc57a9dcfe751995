"""Writing model files so that a reader never sees half of one."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.atomic import atomic_path
from xmodal.hashing import sha256_file


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a sibling temporary file, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        write(tmp)
    return path


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    text = json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return atomic_write(path, write)


def save_numpy_safetensors(
    path: Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> Path:
    from safetensors.numpy import save_file

    # asarray, not ascontiguousarray: the latter turns a 0-d array (a scalar parameter such as
    # the temperature) into shape (1,)
    contiguous = {k: np.asarray(v, order="C") for k, v in arrays.items()}
    return atomic_write(
        path, lambda p: save_file(contiguous, str(p), metadata=dict(metadata or {}))
    )


def load_numpy_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return dict(load_file(str(path)))


def file_digest(path: Path, length: int = 16) -> str:
    return sha256_file(path)[:length]
