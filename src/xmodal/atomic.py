"""Writing files so that a reader (or the next run after a crash) sees the old file or the
new one, never half of one: write a sibling temporary file, flush it to disk, rename it over
the target, then flush the folder so the rename itself survives a crash."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries, so that a rename in it survives a crash."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary sibling path for writers that only take a file name (safetensors, ONNX);
    it replaces ``path`` when the block ends without an exception."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    sync_folder(target.parent)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file object whose content replaces ``path`` when the block ends without an
    exception; on an exception the target is untouched and the temporary file removed.

    A random sibling name opened with O_EXCL rather than mkstemp: open() applies the umask,
    so the result gets ordinary permissions instead of mkstemp's 0600.
    """
    with atomic_path(path) as tmp, open(tmp, "xb") as f:
        yield f


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
