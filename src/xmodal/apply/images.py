"""Picture items decoded one at a time, each read by a function (a hash, a classifier)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from PIL import Image

from xmodal.errors import DecodeError
from xmodal.media.image import decode_image
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.progress import ProgressFactory, start_progress
from xmodal.records import Item, Skipped

T = TypeVar("T")


def read_images(
    images: Sequence[Item],
    read: Callable[[Image.Image], T],
    limits: DecodeLimits = DEFAULT_LIMITS,
    progress: ProgressFactory | None = None,
) -> tuple[dict[str, T], list[Skipped]]:
    """``{item id: read(its decoded picture)}``, and the files that did not read or decode
    (one unreadable file costs that file, not the run)."""
    bar = start_progress(progress, len(images))
    out: dict[str, T] = {}
    skipped = []
    try:
        for it in images:
            try:
                with open(it.path, "rb") as f:
                    out[it.id] = read(decode_image(f.read(), limits).image)
            except (OSError, DecodeError) as e:
                skipped.append(Skipped(it.path, str(e)))
            bar.update(1)
    finally:
        bar.close()
    return out, skipped
