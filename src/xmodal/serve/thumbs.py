"""Thumbnails: decoded with the collection's safe decoder, kept as JPEG files named by the
picture's content and size, so a changed file gets a new one and an unchanged one is made
once."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
from dataclasses import replace
from pathlib import Path

from xmodal.media.image import decode_image
from xmodal.media.limits import DEFAULT_LIMITS

#: the sizes kept; a request is answered with the smallest that is at least as large
SIZES = (128, 256, 512, 1024)


def snap(size: int) -> int:
    return next((s for s in SIZES if s >= size), SIZES[-1])


def thumbnail(source: str, content_hash: str, size: int, cache: Path) -> Path:
    """The cached thumbnail of ``source`` whose longer side is at most ``size`` (one of
    ``SIZES``); made and written atomically on first use. Raises ``DecodeError``."""
    key = hashlib.sha256(content_hash.encode()).hexdigest()[:32]
    target = cache / key[:2] / f"{key}-{size}.jpg"
    if target.is_file():
        return target
    limits = replace(DEFAULT_LIMITS, max_side=size)
    with open(source, "rb") as f:
        data = f.read(limits.max_file_bytes + 1)
    picture = decode_image(data, limits).image
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target
