"""Audio files in the ingest pipeline: decoded and cut into spans in a worker thread, speech
heard (ASR) and spans embedded with the batch on the main thread.

A recording's segments are its spans in time order: speech cut at pauses (at most about
30 s each) and overlapping windows over the rest. Each carries ``start``/``end``; a speech
span's text is what was heard in it, with every word's time; a span with no words carries the
file name's words, so "dog bark" still finds ``dog_bark.wav`` through the text spaces.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.encoders.base import Encoder, SpeechExtractor, TextExtractor
from xmodal.errors import DecodeError
from xmodal.media.audio import AudioClip, decode_audio
from xmodal.media.audio_segments import segment_audio
from xmodal.media.image import filename_words
from xmodal.media.limits import DecodeLimits
from xmodal.media.walk import FileRef
from xmodal.records import Segment, Word

if TYPE_CHECKING:
    from xmodal.ingest.encode import TextCache
    from xmodal.ingest.prepare import Prepared, SameContent

#: bytes hashed per read
_HASH_BLOCK = 1 << 20
#: the longest stretch of speech heard in one call (Whisper's window is 30 s)
HEAR_SECONDS = 29.0
#: the longest query recording embedded (seconds from its start)
QUERY_SECONDS = 60.0


def file_hash(path: str, limit: int) -> str:
    """BLAKE2b of the file, read in blocks (an audio file is never read whole)."""
    h = hashlib.blake2b(digest_size=16)
    seen = 0
    try:
        with open(path, "rb") as f:
            while block := f.read(_HASH_BLOCK):
                seen += len(block)
                if seen > limit:
                    raise DecodeError(f"file larger than {limit} bytes")
                h.update(block)
    except OSError as e:
        raise DecodeError(f"cannot read: {e.strerror or e}") from None
    return h.hexdigest()


def name_words(path: str) -> str:
    return filename_words(os.path.splitext(os.path.basename(path))[0])


def audio_segments(clip: AudioClip, words_of_name: str) -> tuple[list[Segment], list[int]]:
    """The segments of ``clip`` and the ordinals of those that are speech."""
    spans = segment_audio(clip)
    segments = [
        Segment(n, "" if s.speech else words_of_name, round(s.start, 3), round(s.end, 3))
        for n, s in enumerate(spans)
    ]
    return segments, [n for n, s in enumerate(spans) if s.speech]


def decode_prepared(ref: FileRef, digest: str, limits: DecodeLimits) -> Prepared:
    """``ref`` decoded and cut into segments, waiting for the recogniser and the encoders."""
    from xmodal.ingest.prepare import Prepared

    clip = decode_audio(ref.path, limits)
    words = name_words(ref.path)
    segments, speech = audio_segments(clip, words)
    metadata: dict[str, Any] = {
        "duration": round(clip.duration, 3),
        "sample_rate": clip.source_rate,
        "channels": clip.channels,
        "format": clip.format,
        "speech_segments": speech,
    }
    return Prepared(ref, digest, segments, metadata, words, None, audio=clip)


def prepare_audio(
    ref: FileRef,
    limits: DecodeLimits,
    stored_hash: str | None,
    stored_id: str | None,
    vanished: Mapping[str, str],
) -> Prepared | SameContent:
    """What ``ingest.prepare.prepare`` makes of an audio file (the same three outcomes)."""
    from xmodal.ingest.prepare import SameContent

    digest = file_hash(ref.path, limits.max_audio_bytes)
    if stored_id is not None and digest == stored_hash:
        return SameContent(ref, stored_id)
    if stored_id is None and digest in vanished:
        return SameContent(ref, vanished[digest])
    return decode_prepared(ref, digest, limits)


def _speech_spans(p: Prepared) -> list[Segment]:
    speech = set(p.metadata.get("speech_segments", ()))
    return [s for s in p.segments if s.ordinal in speech and s.start is not None]


def _windows(spans: Sequence[Segment]) -> list[tuple[float, float]]:
    """Consecutive speech spans joined into stretches of at most ``HEAR_SECONDS``: Whisper
    reads 30 s per call whatever it is given, so one call per stretch costs a fraction of one
    per span, and words cut at a span's edge are heard whole."""
    out: list[list[float]] = []
    for s in spans:
        assert s.start is not None and s.end is not None
        if out and s.end - out[-1][0] <= HEAR_SECONDS:
            out[-1][1] = s.end
        else:
            out.append([s.start, s.end])
    return [(a, b) for a, b in out]


def _hear(ext: SpeechExtractor, p: Prepared) -> list[dict[str, Any]]:
    assert p.audio is not None
    out: list[dict[str, Any]] = []
    for start, end in _windows(_speech_spans(p)):
        for w in ext.transcribe(p.audio.span(start, end)):
            out.append(
                {
                    "text": w.text,
                    "start": round(start + w.start, 3),
                    "end": round(min(end, start + w.end), 3),
                }
            )
    return out


def attach_words(p: Prepared, ext_name: str, heard: Sequence[dict[str, Any]]) -> None:
    """Put each heard word into the speech span it was said in; the transcript becomes the
    item's text and, with its times, part of its metadata."""
    words = [Word(w["start"], w["end"], w["text"]) for w in heard]
    spans = _speech_spans(p)
    owned: dict[int, list[Word]] = {s.ordinal: [] for s in spans}
    for w in words:
        # the span the word's middle lies in, or the nearest (the detector's edges and the
        # recogniser's times disagree by a few tenths of a second)
        mid = (w.start + w.end) / 2
        near = min(spans, key=lambda s: max((s.start or 0.0) - mid, mid - (s.end or 0.0), 0.0))
        lo, hi = near.start or 0.0, near.end or 0.0
        if lo <= mid <= hi:
            # Whisper's last word of a stretch tends to run on into the pause after it
            w = Word(max(w.start, lo), min(w.end, hi), w.text)
        owned[near.ordinal].append(w)
    fallback = name_words(p.ref.path)
    for n, seg in enumerate(p.segments):
        if seg.ordinal in owned:
            mine = owned[seg.ordinal]
            text = " ".join(w.text for w in mine)
            p.segments[n] = replace(seg, text=text or fallback, words=tuple(mine))
    transcript = " ".join(w.text for w in words)
    p.metadata[ext_name] = {"transcript": transcript, "words": [list(w.values()) for w in heard]}
    if transcript:
        p.text = transcript


def hear_speech(
    batch: Sequence[Prepared], extractors: Sequence[TextExtractor], cache: TextCache
) -> None:
    """Run every speech recogniser over the speech spans of the batch's recordings (or take
    what it heard in the same bytes before from ``cache``)."""
    for ext in extractors:
        if not isinstance(ext, SpeechExtractor):
            continue
        todo = [p for p in batch if p.audio is not None]
        known = cache.lookup(ext, [p.content_hash for p in todo])
        for p in todo:
            heard = known.get(p.content_hash)
            if heard is None:
                heard = _hear(ext, p)
                cache.add(ext, p.content_hash, heard)
            attach_words(p, ext.name, heard)
    # a span the recogniser did not read (none in the collection) keeps the file's words
    for p in batch:
        if p.audio is None:
            continue
        fallback = name_words(p.ref.path)
        for n, seg in enumerate(p.segments):
            if not seg.text:
                p.segments[n] = replace(seg, text=fallback)


#: a recording's spans to embed: its position in the batch, its clip, and (ordinal, start,
#: end) of each span
SpanJob = tuple[int, AudioClip, list[tuple[int, float, float]]]


def audio_spans(batch: Sequence[Prepared]) -> list[SpanJob]:
    """The spans of each recording of ``batch``, read once, so that embedding them can run
    beside the recogniser, which rewrites the segments' text (never their times)."""
    out: list[SpanJob] = []
    for n, p in enumerate(batch):
        if p.audio is None:
            continue
        spans = [
            (s.ordinal, s.start, s.end)
            for s in p.segments
            if s.start is not None and s.end is not None
        ]
        if spans:
            out.append((n, p.audio, spans))
    return out


def embed_spans(enc: Encoder, jobs: Sequence[SpanJob]) -> dict[int, tuple[list[int], np.ndarray]]:
    """Vectors of the spans of ``jobs``, keyed by each recording's position in its batch."""
    out: dict[int, tuple[list[int], np.ndarray]] = {}
    for n, clip, spans in jobs:
        for lo in range(0, len(spans), enc.batch_size):
            part = spans[lo : lo + enc.batch_size]
            vecs = enc.encode_audio([clip.span(start, end) for _, start, end in part])
            prev = out.get(n)
            ords = [o for o, _, _ in part]
            out[n] = (prev[0] + ords, np.vstack([prev[1], vecs])) if prev else (ords, vecs)
    return out


def embed_audio(enc: Encoder, batch: Sequence[Prepared]) -> dict[int, tuple[list[int], np.ndarray]]:
    """Vectors of every span of each recording of ``batch``, keyed by its position."""
    return embed_spans(enc, audio_spans(batch))


def query_audio_vector(enc: Encoder, clip: AudioClip) -> np.ndarray:
    """A query recording in an audio space: its first ``QUERY_SECONDS`` as one clip."""
    return enc.encode_audio([clip.span(0.0, QUERY_SECONDS)])[0]
