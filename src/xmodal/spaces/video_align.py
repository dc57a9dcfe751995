"""Ranking videos by a query clip: the clip's windows against each video's windows, in order.

Each window of the clip (cut and embedded as indexing cuts and embeds videos) is looked up in
the space's index; the videos whose windows come up are the candidates, and each is scored by
the best order-respecting alignment of the clip's windows to its own: every query window is
matched to one window of the video, never to one before the window matched by the query
window before it (a clip cut from a video finds the shots of that video in their order; one
shot of it alone, or the shots shuffled, scores lower). The score is the mean similarity of
the matched pairs, so a clip of one window compares like a picture.

The moment is the stretch of the video the alignment covers. Where a cut of the clip falls on
a cut of the video, the two name the same instant, so the clip's offset inside the video is
known and the moment is narrowed to the clip's own length from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xmodal.records import Modality
from xmodal.spaces.base import FilterScope, SearchContext, SpaceHit
from xmodal.store.item_vectors import ItemVectors, item_vectors

#: how many neighbours of each query window are looked up to find candidate videos
_NEIGHBOURS = 256


@dataclass(frozen=True, slots=True)
class ClipWindows:
    """The query clip's windows in one space: unit vectors and their times and shots."""

    vectors: np.ndarray
    starts: list[float]
    ends: list[float]
    shots: list[int]


def align(sim: np.ndarray) -> tuple[float, list[int]]:
    """The best order-respecting alignment of the rows of ``sim`` (query windows) to its
    columns (a video's windows): (mean similarity of the pairs, the column of each row)."""
    q, m = sim.shape
    total = sim[0].astype(np.float64)
    back = np.zeros((q, m), dtype=np.int64)
    for i in range(1, q):
        # the best total up to each column, and the column it was reached at
        run = np.maximum.accumulate(total)
        back[i] = np.maximum.accumulate(np.where(total >= run, np.arange(m), 0))
        total = run + sim[i]
    j = int(np.argmax(total))
    path = [j]
    for i in range(q - 1, 0, -1):
        j = int(back[i][j])
        path.append(j)
    path.reverse()
    return float(total.max() / q), path


def moment(
    clip: ClipWindows, video: ItemVectors, shots: Sequence[int], path: Sequence[int]
) -> tuple[float, float]:
    """The span of ``video`` that ``path`` aligns the clip to, narrowed to the clip's length
    where cuts of the clip fall on cuts of the video."""
    lo, hi = video.starts[path[0]], video.ends[path[-1]]
    offsets: list[float] = []
    for i in range(len(path) - 1):
        a, b = path[i], path[i + 1]
        clip_cut = clip.shots[i] != clip.shots[i + 1]
        video_cut = a != b and shots[a] != shots[b]
        if clip_cut and video_cut:
            offsets.append(video.ends[a] - clip.ends[i])
            offsets.append(video.starts[b] - clip.starts[i + 1])
    if not offsets:
        return lo, hi
    offset = float(np.median(offsets))
    start, end = max(lo, offset + clip.starts[0]), min(hi, offset + clip.ends[-1])
    return (round(start, 3), round(end, 3)) if end > start else (lo, hi)


def _candidates(
    context: SearchContext,
    space: str,
    dim: int,
    clip: ClipWindows,
    depth: int,
    filters: FilterScope,
) -> list[str]:
    """The videos whose windows are nearest some window of the clip, nearest first."""
    idx = context.indexes.get(space, dim, exact=filters.exact)
    n = min(len(idx), max(_NEIGHBOURS, 4 * depth))
    if n <= 0:
        return []
    scores, seg_ids = idx.search(clip.vectors, n, filters.allowed_segments())
    best: dict[int, float] = {}
    for sid, score in zip(seg_ids.ravel().tolist(), scores.ravel().tolist(), strict=True):
        if sid >= 0 and score > best.get(sid, -np.inf):
            best[sid] = score
    refs = context.store.resolve_segments(best)
    items: list[str] = []
    for sid in sorted(best, key=lambda sid: -best[sid]):
        ref = refs.get(sid)
        if ref is not None and ref.item.modality is Modality.VIDEO and ref.item.id not in items:
            items.append(ref.item.id)
    return items[:depth]


def align_rank(
    context: SearchContext,
    space: str,
    dim: int,
    clip: ClipWindows,
    depth: int,
    filters: FilterScope,
) -> list[SpaceHit]:
    """The candidate videos by how well the clip aligns to them, each hit the video's best
    matched window with the aligned moment as its start and end."""
    wanted = _candidates(context, space, dim, clip, depth, filters)
    found = item_vectors(context.store, space, dim, wanted)
    refs = context.store.resolve_segments(v.segment_ids[0] for v in found.values())
    hits: list[SpaceHit] = []
    for video in found.values():
        item = refs[video.segment_ids[0]].item if video.segment_ids[0] in refs else None
        if item is None:
            continue
        sim = clip.vectors @ video.vectors.T
        score, path = align(sim)
        shots = _shots(item.metadata.get("segment_shots"), video)
        start, end = moment(clip, video, shots, path)
        best = max(range(len(path)), key=lambda i: sim[i, path[i]])
        hits.append(SpaceHit(video.segment_ids[path[best]], score, start, end))
    hits.sort(key=lambda h: -h.score)
    return hits


def _shots(recorded: object, video: ItemVectors) -> list[int]:
    """The shot of each of ``video``'s windows (each its own shot when none is recorded)."""
    if isinstance(recorded, list):
        shots = [recorded[o] if 0 <= o < len(recorded) else -1 - o for o in video.ordinals]
        if all(isinstance(s, int) for s in shots):
            return shots
    return [-1 - o for o in video.ordinals]
