"""Checksums of files, read in blocks so that a large download never sits in memory whole."""

from __future__ import annotations

import hashlib
import os

_BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of the file at ``path``, as lower-case hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
