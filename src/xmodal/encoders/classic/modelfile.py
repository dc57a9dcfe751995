"""Fitted models of the classic family and their files: a numbers-only ``.npz`` whose first
array names the kind of model and the layout version. A model file is a user-supplied
input, so it is checked before anything in it is trusted."""

from __future__ import annotations

import hashlib
import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar, Literal, Self, TypeVar

import numpy as np

from xmodal.atomic import atomic_file
from xmodal.errors import UsageError, XmodalError

ModelKind = Literal["bovw", "pca"]

#: first array of every model file: what it is and the layout version
_HEADER_KEY = "xmodal_model"
KIND_CODES: dict[str, int] = {"bovw": 1, "pca": 2}
_FORMAT_VERSION = 1
#: a model file is a user-supplied input: refuse to inflate more than this
_MAX_MODEL_BYTES = 256 * 1024 * 1024
_WHAT = {"bovw": "visual-word vocabulary", "pca": "PCA projection"}


def how_to_make(kind: str) -> str:
    return (
        f"make one with `xmodal models fit {kind}` "
        f"(or xmodal.encoders.classic.fit_from_folder('{kind}', ...))"
    )


def check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be an integer from {low} to {high}, got {value!r}")


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    """Hash of the model's numbers (names, dtypes, shapes, values), independent of how the
    zip container was written, so re-saving the same fit keeps the tag."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> Path:
    target = Path(path).expanduser().absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    return target


def _check_arrays(arrays: Mapping[str, np.ndarray], kind: ModelKind) -> None:
    header = arrays.get(_HEADER_KEY)
    if header is None or header.shape != (2,) or header.dtype.kind not in "iu":
        raise ValueError("no xmodal model header")
    code, version = (int(v) for v in header)
    if code != KIND_CODES[kind]:
        found = next((k for k, c in KIND_CODES.items() if c == code), "unknown")
        raise ValueError(f"it holds a {_WHAT.get(found, found + ' model')}")
    if version != _FORMAT_VERSION:
        raise ValueError(f"model format {version}, this version reads {_FORMAT_VERSION}")
    for key, a in arrays.items():
        if a.dtype.kind not in "iuf":
            raise ValueError(f"array {key!r} is not numeric")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"array {key!r} holds non-finite numbers")


def _load_npz(path: str | os.PathLike[str], kind: ModelKind) -> dict[str, np.ndarray]:
    """The arrays of a model file of ``kind``; anything else is an ``XmodalError`` saying
    how to make a good one."""
    what, how = _WHAT[kind], how_to_make(kind)
    p = Path(path)
    if not p.is_file():
        raise XmodalError(f"{what} file not found: {p}; {how}")
    try:
        with zipfile.ZipFile(p) as z:
            if sum(i.file_size for i in z.infolist()) > _MAX_MODEL_BYTES:
                raise ValueError(f"it would inflate to more than {_MAX_MODEL_BYTES} bytes")
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
        _check_arrays(arrays, kind)
    except XmodalError:
        raise
    except Exception as e:  # zip, npy header and value errors all mean the same to the user
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise XmodalError(f"{p} is not a valid {what} ({reason}); {how}") from None
    return arrays


def require(arrays: Mapping[str, np.ndarray], key: str, ndim: int) -> np.ndarray:
    a = arrays.get(key)
    if a is None or a.ndim != ndim:
        raise ValueError(f"array {key!r} missing or of the wrong shape")
    return a


_M = TypeVar("_M")


def _load_checked(
    path: str | os.PathLike[str], kind: ModelKind, build: Callable[[Mapping[str, np.ndarray]], _M]
) -> _M:
    arrays = _load_npz(path, kind)
    try:
        return build(arrays)
    except (ValueError, TypeError) as e:
        raise XmodalError(
            f"{path} is not a valid {_WHAT[kind]} ({e}); {how_to_make(kind)}"
        ) from None


class FittedModel(ABC):
    """A model fitted on a sample of images. Its ``fingerprint`` hashes its numbers and
    becomes the space's weights tag, so vectors from a refitted model never share a space
    with older ones."""

    kind: ClassVar[ModelKind]
    fingerprint: str

    @abstractmethod
    def payload(self) -> dict[str, np.ndarray]:
        """The model's own arrays, as saved."""

    @classmethod
    @abstractmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Self:
        """The model from a checked file's arrays; ``ValueError`` when they do not fit."""

    def _seal(self) -> None:
        # called once the arrays are final, at the end of each subclass's __init__
        self.fingerprint = _digest(self._arrays())

    def _arrays(self) -> dict[str, np.ndarray]:
        header = np.array([KIND_CODES[self.kind], _FORMAT_VERSION], dtype=np.int64)
        return {_HEADER_KEY: header, **self.payload()}

    def save(self, path: str | os.PathLike[str]) -> Path:
        return _save_npz(path, self._arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        return _load_checked(path, cls.kind, cls.from_arrays)
