"""A space of vectors: the query is embedded by the space's encoder and looked up in its
vector index; a video clip in a space that embeds pictures is aligned window by window
against the videos instead (``xmodal.spaces.video_align``)."""

from __future__ import annotations

import numpy as np

from xmodal.encoders.base import l2_normalize
from xmodal.ingest.audio import query_audio_vector
from xmodal.ingest.prepare import Prepared
from xmodal.ingest.video import embed_frames
from xmodal.query.parse import Term
from xmodal.records import Modality
from xmodal.spaces.base import FilterScope, QueryInputs, Space, SpaceHit
from xmodal.spaces.video_align import ClipWindows, align_rank


class VectorSpace(Space):
    fusion_order = 0
    _last_clip: tuple[Prepared, tuple[list[int], np.ndarray]] | None = None

    def query_vector(self, query: QueryInputs) -> np.ndarray | None:
        """The weighted sum of the query's term vectors, unit length; None when no term
        with a positive weight can be embedded here.

        Image terms enter image spaces by their pixels and text spaces by the words attached
        to them (sidecar, EXIF/XMP, file name), so a picture also finds text about it; audio
        terms enter audio spaces by their sound and text spaces by the speech heard in them;
        a video term enters image spaces by the mean of its windows' vectors and text spaces
        by the words captioned, said or shown in it.
        """
        parts = self._parts(query, aligned=())
        if not any(w > 0 for w, _ in parts):
            return None
        vec = np.sum(np.stack([w * v for w, v in parts]), axis=0, dtype=np.float32)
        return l2_normalize(vec.reshape(1, -1))[0]

    def _parts(
        self, query: QueryInputs, aligned: tuple[Term, ...]
    ) -> list[tuple[float, np.ndarray]]:
        """(weight, unit vector) of each term this space embeds, less the ``aligned`` ones."""
        enc = self.encoder
        parts: list[tuple[float, np.ndarray]] = []
        texts = query.query.texts()
        if enc.accepts(Modality.TEXT) and texts:
            vecs = enc.encode_texts([t.value for t in texts], role="query")
            parts.extend((t.weight, v) for t, v in zip(texts, vecs, strict=True))
        for t in query.query.media():
            if t in aligned:
                continue
            prep = query.images[t.value]
            windows = self._windows(prep) if enc.accepts(Modality.IMAGE) else None
            if t.kind == "video" and windows is not None:
                mean = windows[1].mean(axis=0, keepdims=True)
                parts.append((t.weight, l2_normalize(mean)[0]))
            elif enc.accepts(Modality.AUDIO) and prep.audio is not None:
                parts.append((t.weight, query_audio_vector(enc, prep.audio)))
            elif enc.accepts(Modality.IMAGE) and prep.image is not None:
                parts.append((t.weight, enc.encode_images([prep.image])[0]))
            elif enc.accepts(Modality.TEXT) and prep.text.strip():
                parts.append((t.weight, enc.encode_texts([prep.text], role="query")[0]))
        return parts

    def _windows(self, prep: Prepared) -> tuple[list[int], np.ndarray] | None:
        """The ordinals and unit vectors of a query clip's windows in this space."""
        if prep.video is None or not prep.video.frames:
            return None
        # kept for the clip last asked about, so one search embeds its frames once
        last = self._last_clip
        if last is None or last[0] is not prep:
            last = (prep, embed_frames(self.encoder, [prep])[0])
            self._last_clip = last
        return last[1]

    def _clip(self, query: QueryInputs) -> ClipWindows | None:
        """The query's clips with a positive weight, their windows one after the other, each
        window's vector moved by the query's other terms as they move a query vector."""
        clips = [
            t
            for t in query.query.videos()
            if t.weight > 0
            and self.encoder.accepts(Modality.IMAGE)
            and self._windows(query.images[t.value])
        ]
        if not clips:
            return None
        rest = self._parts(query, tuple(clips))
        shift = np.sum([w * v for w, v in rest], axis=0) if rest else 0.0
        vectors, starts, ends, shots = [], [], [], []
        at = 0.0
        for n, t in enumerate(clips):
            prep = query.images[t.value]
            found = self._windows(prep)
            assert found is not None
            ordinals, vecs = found
            vectors.append(t.weight * vecs + shift)
            recorded = prep.metadata.get("segment_shots", [])
            for o in ordinals:
                seg = prep.segments[o]
                starts.append(at + (seg.start or 0.0))
                ends.append(at + (seg.end or 0.0))
                shots.append(n * 1_000_000 + recorded[o])
            at = ends[-1]
        mat = l2_normalize(np.vstack(vectors).astype(np.float32))
        return ClipWindows(mat, starts, ends, shots)

    def rank(self, query: QueryInputs, depth: int, filters: FilterScope) -> list[SpaceHit] | None:
        clip = self._clip(query)
        if clip is not None:
            return align_rank(self.context, self.name, self.record.dim, clip, depth, filters)
        qv = self.query_vector(query)
        if qv is None:
            return None
        # an approximate index searches a filter that lets few segments through exactly
        idx = self.context.indexes.get(self.name, self.record.dim, exact=filters.exact)
        scores, seg_ids = idx.search(qv[None, :], min(depth, len(idx)), filters.allowed_segments())
        valid = seg_ids[0] >= 0
        return [
            SpaceHit(sid, score)
            for sid, score in zip(
                seg_ids[0][valid].tolist(), scores[0][valid].tolist(), strict=True
            )
        ]
