"""Hits on moments of videos: a window names its shot and its thumbnail, and windows of one
shot that both match, next to each other, are one moment (the better one's rank, both's
time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from xmodal.ingest.video import thumbnail_path
from xmodal.records import Modality, SearchHit
from xmodal.store.sqlite import SegmentRef


def shot_of(ref: SegmentRef) -> int | None:
    """The shot a video segment lies in, as recorded when it was indexed."""
    shots = ref.item.metadata.get("segment_shots")
    if ref.item.modality is not Modality.VIDEO or not isinstance(shots, list):
        return None
    n = ref.segment.ordinal
    return shots[n] if 0 <= n < len(shots) and isinstance(shots[n], int) else None


def video_fields(hit: SearchHit, ref: SegmentRef, root: str | os.PathLike[str]) -> SearchHit:
    """``hit`` with its shot (numbered from 1) and the thumbnail of its window, when it is
    a video's."""
    shot = shot_of(ref)
    if shot is None:
        return hit
    thumb = thumbnail_path(root, ref.item.content_hash, ref.segment.ordinal)
    return replace(hit, shot=shot + 1, thumbnail=str(thumb) if thumb.exists() else None)


@dataclass(slots=True)
class _Moment:
    at: int
    item: str
    shot: int
    first: int
    last: int


class MomentMerger:
    """Hits in rank order, a video window that continues a better-ranked moment of the same
    shot folded into it."""

    def __init__(self) -> None:
        self.hits: list[SearchHit] = []
        self._moments: list[_Moment] = []

    def add(self, hit: SearchHit) -> None:
        if hit.shot is not None and hit.start is not None and hit.end is not None:
            for m in self._moments:
                if (
                    m.item == hit.id
                    and m.shot == hit.shot
                    and hit.segment in (m.first - 1, m.last + 1)
                ):
                    old = self.hits[m.at]
                    assert old.start is not None and old.end is not None
                    self.hits[m.at] = replace(
                        old, start=min(old.start, hit.start), end=max(old.end, hit.end)
                    )
                    m.first, m.last = min(m.first, hit.segment), max(m.last, hit.segment)
                    return
            self._moments.append(
                _Moment(len(self.hits), hit.id, hit.shot, hit.segment, hit.segment)
            )
        self.hits.append(hit)
