"""Decoding the video terms of a query: the clip cut into shots and windows exactly as
indexing cuts the collection's videos, so each of its windows can be matched against theirs,
and the words captioned, said or shown in it when the collection reads text.

As with a query image, the file name is the user's label for the query, so its words count
only when asked for (``use_name``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from xmodal.encoders.base import TextExtractor
from xmodal.errors import DecodeError, UsageError
from xmodal.ingest.audio import name_words
from xmodal.ingest.encode import TextCache
from xmodal.ingest.prepare import Prepared
from xmodal.ingest.video import decode_video, hear_soundtracks, read_text_in_frames
from xmodal.media.limits import DecodeLimits
from xmodal.media.video import AudioOnly
from xmodal.media.walk import FileRef, walk
from xmodal.records import Modality
from xmodal.spaces.query_file import query_file


class SoundOnlyClip(UsageError):
    """A query video whose container holds sound and no picture: a recording."""


def decode_query_video(
    value: str,
    limits: DecodeLimits,
    extractors: Sequence[TextExtractor] = (),
    use_name: bool = False,
) -> Prepared:
    """The video term ``value`` (a path) decoded into windows with their frames; its
    ``text`` the words of its subtitles, its speech and its frames."""
    path = query_file(value, Modality.VIDEO)
    found = walk([path])
    ref = found.files[0] if found.files else FileRef(path, Modality.VIDEO, 0, 0)
    try:
        prepared = decode_video(ref, "query", limits)
    except AudioOnly:
        raise SoundOnlyClip(
            f"query video {value} has no picture, only sound: search with it as aud:PATH"
        ) from None
    except DecodeError as e:
        raise UsageError(f"query video {value}: {e}") from None
    fallback = name_words(path)
    if not use_name:
        prepared.segments = [
            replace(s, text="") if s.text == fallback else s for s in prepared.segments
        ]
    cache = TextCache(None)
    hear_soundtracks([prepared], extractors, cache)
    read_text_in_frames([prepared], extractors, cache)
    words = [s.text.strip(". ") for s in prepared.segments]
    prepared.text = ". ".join(dict.fromkeys(w for w in words if w))
    return prepared
