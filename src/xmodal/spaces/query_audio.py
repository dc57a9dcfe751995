"""Decoding the audio terms of a query: the sound exactly as indexing decoded the
collection's recordings, and the words heard in it when the collection hears speech.

As with a query image, the file name is the user's label for the query, so its words count
only when asked for (``use_name``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from xmodal.encoders.base import TextExtractor
from xmodal.errors import DecodeError, UsageError
from xmodal.ingest.audio import decode_prepared, hear_speech, name_words
from xmodal.ingest.encode import TextCache
from xmodal.ingest.prepare import Prepared
from xmodal.media.limits import DecodeLimits
from xmodal.media.walk import FileRef
from xmodal.records import Modality
from xmodal.spaces.query_file import query_file


def decode_query_audio(
    value: str,
    limits: DecodeLimits,
    extractors: Sequence[TextExtractor] = (),
    use_name: bool = False,
) -> Prepared:
    """The audio term ``value`` (a path) decoded; its ``text`` the words heard in it."""
    path = query_file(value, Modality.AUDIO)
    ref = FileRef(path, Modality.AUDIO, os.path.getsize(path), 0)
    try:
        prepared = decode_prepared(ref, "", limits)
    except DecodeError as e:
        raise UsageError(f"query audio {value}: {e}") from None
    hear_speech([prepared], extractors, TextCache(None))
    heard = " ".join(s.text for s in prepared.segments if s.words)
    words = [heard, name_words(path)] if use_name else [heard]
    prepared.text = ". ".join(w for w in words if w)
    return prepared
