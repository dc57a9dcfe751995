"""A space of vectors: the query is embedded by the space's encoder and looked up in its
vector index."""

from __future__ import annotations

import numpy as np

from xmodal.encoders.base import l2_normalize
from xmodal.ingest.audio import query_audio_vector
from xmodal.records import Modality
from xmodal.spaces.base import FilterScope, QueryInputs, Space, SpaceHit


class VectorSpace(Space):
    fusion_order = 0

    def query_vector(self, query: QueryInputs) -> np.ndarray | None:
        """The weighted sum of the query's term vectors, unit length; None when no term
        with a positive weight can be embedded here.

        Image terms enter image spaces by their pixels and text spaces by the words attached
        to them (sidecar, EXIF/XMP, file name), so a picture also finds text about it; audio
        terms enter audio spaces by their sound and text spaces by the speech heard in them.
        """
        enc = self.encoder
        parts: list[tuple[float, np.ndarray]] = []
        texts = query.query.texts()
        if enc.accepts(Modality.TEXT) and texts:
            vecs = enc.encode_texts([t.value for t in texts], role="query")
            parts.extend((t.weight, v) for t, v in zip(texts, vecs, strict=True))
        for t in query.query.media():
            prep = query.images[t.value]
            if enc.accepts(Modality.AUDIO) and prep.audio is not None:
                parts.append((t.weight, query_audio_vector(enc, prep.audio)))
            elif enc.accepts(Modality.IMAGE) and prep.image is not None:
                parts.append((t.weight, enc.encode_images([prep.image])[0]))
            elif enc.accepts(Modality.TEXT) and prep.text.strip():
                parts.append((t.weight, enc.encode_texts([prep.text], role="query")[0]))
        if not any(w > 0 for w, _ in parts):
            return None
        vec = np.sum(np.stack([w * v for w, v in parts]), axis=0, dtype=np.float32)
        return l2_normalize(vec.reshape(1, -1))[0]

    def rank(self, query: QueryInputs, depth: int, filters: FilterScope) -> list[SpaceHit] | None:
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
