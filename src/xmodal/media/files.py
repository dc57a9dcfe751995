"""Reading a file within the decode limits: the first step of every decoder, shared by
indexing, model fitting and training so that each sees the bytes (and pixels) the others do."""

from __future__ import annotations

import os

from xmodal.errors import DecodeError
from xmodal.media.image import DecodedImage, decode_image
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits


def checked_size(path: str | os.PathLike[str], max_bytes: int) -> int:
    """The size of ``path``; ``DecodeError`` when it cannot be read, is empty or is larger
    than ``max_bytes`` (a decoder that streams its file checks this before opening it)."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise DecodeError(f"cannot read: {e.strerror or e}") from None
    if size == 0:
        raise DecodeError("empty file")
    if size > max_bytes:
        raise DecodeError(f"file larger than {max_bytes} bytes")
    return size


def read_capped(
    path: str | os.PathLike[str], limits: DecodeLimits, size: int | None = None
) -> bytes:
    """The bytes of ``path``, at most one byte over ``limits.max_file_bytes`` (which the
    decoders then refuse). ``size``, when the caller knows it from listing the folder, refuses
    an oversized file before it is opened. Raises ``DecodeError`` for both refusals and for a
    file that cannot be read."""
    if size is not None and size > limits.max_file_bytes:
        raise DecodeError(f"file larger than {limits.max_file_bytes} bytes")
    try:
        with open(path, "rb") as f:
            return f.read(limits.max_file_bytes + 1)
    except OSError as e:
        raise DecodeError(f"cannot read: {e.strerror or e}") from None


def read_image_file(
    path: str | os.PathLike[str], limits: DecodeLimits = DEFAULT_LIMITS, size: int | None = None
) -> DecodedImage:
    """Read and decode an image as indexing does: byte cap, pixel cap, EXIF rotation, RGB, no
    larger than ``limits.max_side``. Raises ``DecodeError`` for anything it refuses."""
    return decode_image(read_capped(path, limits, size), limits)
