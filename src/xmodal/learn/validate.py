"""Validation during training (the retrieval metrics that pick the kept epoch), and the same
metrics of a saved model on pairs it was not trained on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xmodal.errors import UsageError
from xmodal.eval.metrics import evaluate
from xmodal.learn.data import PairedData, load_pairs
from xmodal.learn.prepare import Prepared
from xmodal.progress import ProgressFactory

if TYPE_CHECKING:
    from xmodal.learn.models import JointModel

#: the validation number that picks the best epoch and stops training
SELECTION_METRIC = "t2i_recall@10"
#: breaks ties of the selection metric, which on small validation sets often saturates
TIEBREAK_METRIC = "t2i_mrr"
#: when validation also reads the emojis' names in other languages: the mean over languages
#: (the captions, then each other language's names) of text→image recall@10 and MRR, which
#: then pick the kept epoch, so that a run trained for several languages keeps the epoch best
#: at all of them rather than at English alone
SCORE_METRIC = "val_score"
SCORE_TIEBREAK = "val_score_mrr"
#: validation rankings are cut here; deeper ranks change no metric at the cutoffs reported
_RUN_DEPTH = 100
#: pairs embedded per batch when validating
_STEP = 256


def retrieval_metrics(
    image_emb: np.ndarray,
    text_emb: np.ndarray,
    data: PairedData,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Text→image and image→text metrics of paired embeddings, computed with
    :func:`xmodal.eval.metrics.evaluate`.

    One text query per concept (pairs with the same caption are one query, whose relevant
    images are all of that concept's); one image query per image, whose relevant texts are
    its concept's. Keys are prefixed ``t2i_`` and ``i2t_``.
    """
    concepts = data.concept_ids()
    q_rows = _first_rows(concepts, np.ones(len(data), dtype=bool))
    image_ids = [f"i{n}" for n in range(len(data))]
    out = {f"t2i_{k}": v for k, v in t2i_metrics(image_emb, text_emb, concepts, q_rows, ks).items()}

    text_ids = [f"t{r}" for r in q_rows.tolist()]
    i2t = image_emb @ text_emb[q_rows].T
    text_of_concept = {int(concepts[r]): f"t{r}" for r in q_rows.tolist()}
    qrels_i = {image_ids[n]: {text_of_concept[int(concepts[n])]: 1} for n in range(len(data))}
    run_i = _top_run(image_ids, text_ids, i2t)
    out.update({f"i2t_{k}": v for k, v in evaluate(qrels_i, run_i, ks).means.items()})
    return out


def _first_rows(concepts: np.ndarray, has: np.ndarray) -> np.ndarray:
    """The first row of each concept among the rows ``has`` marks."""
    first: dict[int, int] = {}
    for n in np.flatnonzero(has).tolist():
        first.setdefault(int(concepts[n]), n)
    return np.array(sorted(first.values()), dtype=np.int64)


def t2i_metrics(
    image_emb: np.ndarray,
    text_emb: np.ndarray,
    concepts: np.ndarray,
    q_rows: np.ndarray,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Text→image metrics of the texts of rows ``q_rows`` as queries against every image; a
    query's relevant images are all of its concept's."""
    image_ids = [f"i{n}" for n in range(len(image_emb))]
    qrels = {
        f"q{r}": {image_ids[j]: 1 for j in np.flatnonzero(concepts == concepts[r])}
        for r in q_rows.tolist()
    }
    run = _top_run([f"q{r}" for r in q_rows.tolist()], image_ids, text_emb[q_rows] @ image_emb.T)
    return dict(evaluate(qrels, run, ks).means)


def language_scores(
    image_emb: np.ndarray,
    metrics: Mapping[str, float],
    names: Mapping[str, tuple[np.ndarray, np.ndarray]],
    data: PairedData,
) -> dict[str, float]:
    """``metrics`` (of the captions) plus, for each language of ``names`` (its names'
    embeddings, one per pair, and which pairs have a name), text→image recall@10 and MRR of
    those names (keys ``t2i_recall@10_LANG``, ``t2i_mrr_LANG``) and their means over all
    languages, the captions' included (:data:`SCORE_METRIC`, :data:`SCORE_TIEBREAK`)."""
    out = dict(metrics)
    if not names:
        return out
    concepts = data.concept_ids()
    recalls, mrrs = [out[SELECTION_METRIC]], [out[TIEBREAK_METRIC]]
    for lang, (emb, has) in sorted(names.items()):
        m = t2i_metrics(image_emb, emb, concepts, _first_rows(concepts, has), (10,))
        out[f"t2i_recall@10_{lang}"], out[f"t2i_mrr_{lang}"] = m["recall@10"], m["mrr"]
        recalls.append(m["recall@10"])
        mrrs.append(m["mrr"])
    out[SCORE_METRIC], out[SCORE_TIEBREAK] = float(np.mean(recalls)), float(np.mean(mrrs))
    return out


def _top_run(
    qids: Sequence[str], docids: Sequence[str], scores: np.ndarray
) -> dict[str, dict[str, float]]:
    depth = min(_RUN_DEPTH, scores.shape[1])
    top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    return {
        q: {docids[j]: float(scores[i, j]) for j in top[i].tolist()} for i, q in enumerate(qids)
    }


def summary(metrics: Mapping[str, float]) -> dict[str, float]:
    keys = [
        f"{d}_{m}" for d in ("t2i", "i2t") for m in ("recall@1", "recall@5", "recall@10", "mrr")
    ]
    return {k: float(metrics[k]) for k in keys if k in metrics}


def score(metrics: Mapping[str, float]) -> tuple[float, float]:
    """What picks the kept epoch: the mean over languages when validation read several."""
    if SCORE_METRIC in metrics:
        return (metrics[SCORE_METRIC], metrics.get(SCORE_TIEBREAK, 0.0))
    return (metrics.get(SELECTION_METRIC, 0.0), metrics.get(TIEBREAK_METRIC, 0.0))


def score_name(metrics: Mapping[str, float]) -> str:
    return SCORE_METRIC if SCORE_METRIC in metrics else SELECTION_METRIC


def embed_val(model: JointModel, p: Prepared, device: str) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from xmodal.learn.models import uint8_to_tensor

    model.eval()
    chunks_i: list[np.ndarray] = []
    chunks_t: list[np.ndarray] = []
    with torch.no_grad():
        n = len(p.val)
        for s in range(0, n, _STEP):
            if model.image_takes_pixels:
                assert p.px_val is not None
                xi = uint8_to_tensor(p.px_val[s : s + _STEP]).to(device)
            else:
                assert p.x_val is not None
                xi = torch.from_numpy(p.x_val[s : s + _STEP]).to(device)
            assert p.y_val is not None
            yt = torch.from_numpy(p.y_val[s : s + _STEP]).to(device)
            chunks_i.append(model.encode_image(xi).cpu().numpy())
            chunks_t.append(model.encode_text(yt).cpu().numpy())
    return np.concatenate(chunks_i), np.concatenate(chunks_t)


def embed_text_features(model: JointModel, feats: np.ndarray, device: str) -> np.ndarray:
    """Frozen text features through the model's text head, batch by batch."""
    import torch

    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                model.encode_text(torch.from_numpy(feats[s : s + _STEP]).to(device)).cpu().numpy()
                for s in range(0, len(feats), _STEP)
            ]
        )


def validate_prepared(model: JointModel, p: Prepared, device: str) -> dict[str, float]:
    """The validation metrics of a model in training, those of each other language's names
    included when the run prepared them."""
    zi, zt = embed_val(model, p, device)
    names = {
        lang: (embed_text_features(model, feats, device), has)
        for lang, (feats, has) in p.val_names.items()
    }
    return language_scores(zi, summary(retrieval_metrics(zi, zt, p.val)), names, p.val)


def evaluate_model(
    model_dir: str | Path,
    data: str | Path | PairedData,
    ks: Sequence[int] = (1, 5, 10),
    text_field: str = "annotation",
    progress: ProgressFactory | None = None,
) -> dict[str, float]:
    """Text→image and image→text metrics of a saved model on pairs it was not trained on
    (a prepared OpenMoji split or a manifest), embedding images and texts the way the
    ``trained:DIR`` encoder does; images embedded are reported to ``progress``."""
    from xmodal.learn.data import read_image
    from xmodal.learn.encoder import TrainedEncoder, load_model

    pairs = data if isinstance(data, PairedData) else load_pairs(data, text_field)  # type: ignore[arg-type]
    model = load_model(model_dir)
    side = TrainedEncoder(model).input_side
    if not model.joint:
        raise UsageError(f"{model_dir} holds an image-only space ({model.method}): no texts")
    emb_i: list[np.ndarray] = []
    step = 64
    bar = None if progress is None else progress(len(pairs))
    try:
        for s in range(0, len(pairs), step):
            batch = [read_image(p, side) for p in pairs.images[s : s + step]]
            emb_i.append(model.embed_images(batch))
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    emb_t = model.embed_texts(list(pairs.texts), role="query")
    return retrieval_metrics(np.concatenate(emb_i), emb_t, pairs, ks)
