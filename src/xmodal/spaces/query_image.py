"""Decoding the image terms of a query: the pixels exactly as indexing decoded the
collection's images, and the words that belong to the picture itself.

A query image speaks for its content: its pixels, the words written beside it (sidecar
captions, EXIF/XMP descriptions) and, when the collection reads text in images, the words
read from its pixels. Its file name is a label the user gave the query file, so it enters only
when asked for (``use_name``): otherwise ``chelsea.png`` would pull every document that
mentions Chelsea above an exact copy of the picture.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from xmodal.encoders.base import TextExtractor
from xmodal.errors import UsageError
from xmodal.ingest.encode import read_text_in_images
from xmodal.ingest.prepare import Prepared, prepare
from xmodal.media.limits import DecodeLimits
from xmodal.media.text import sidecar_text
from xmodal.media.walk import FileRef, walk
from xmodal.records import Modality
from xmodal.spaces.query_file import query_file

#: as much of a sidecar as indexing reads
_SIDECAR_BYTES = 1_000_000


def decode_query_image(
    value: str,
    limits: DecodeLimits,
    extractors: Sequence[TextExtractor] = (),
    use_name: bool = False,
) -> Prepared:
    """The image term ``value`` (a path) decoded, its ``text`` the words that belong to it."""
    path = query_file(value, Modality.IMAGE)
    found = walk([path])
    ref = found.files[0] if found.files else FileRef(path, Modality.IMAGE, 0, 0)
    result = prepare(ref, limits, None, None, {})
    if not isinstance(result, Prepared) or result.image is None:
        reason = getattr(result, "reason", "cannot decode")
        raise UsageError(f"query image {value}: {reason}")
    if not use_name:
        result.text = _words_without_name(ref, result)
        result.segments[0] = replace(result.segments[0], text=result.text)
    read_text_in_images([result], extractors)
    return result


def _words_without_name(ref: FileRef, prepared: Prepared) -> str:
    """The attached words of ``prepared`` as indexing joins them, less the file name's."""
    parts: list[str] = []
    for side in ref.sidecars:
        try:
            with open(side, "rb") as f:
                data = f.read(_SIDECAR_BYTES)
        except OSError:
            continue
        if t := sidecar_text(data, os.path.splitext(side)[1].lower()):
            parts.append(t)
    parts.extend(prepared.metadata.get("embedded_text", ()))
    return ". ".join(dict.fromkeys(p.strip() for p in parts if p.strip()))
