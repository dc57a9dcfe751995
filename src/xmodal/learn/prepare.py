"""A run's data made ready to train on: the train and validation pairs, their frozen
features (or pixels), computed once through the feature cache."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.errors import UsageError
from xmodal.learn.config import ProgressBars, TrainConfig
from xmodal.learn.data import (
    ITEMS_FILE,
    PairedData,
    image_features,
    load_pairs,
    pixel_arrays,
    text_features,
)
from xmodal.learn.methods import Method
from xmodal.progress import ProgressFactory

if TYPE_CHECKING:
    from xmodal.encoders.base import Encoder

#: training pictures are kept this much larger than the input size, so random crops zoom
#: into real detail instead of upsampling
_PIXEL_MARGIN = 1.25


@dataclass(slots=True)
class Prepared:
    train: PairedData
    val: PairedData
    image_encoder: Encoder | None
    text_encoder: Encoder | None
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    px_train: np.ndarray | None = None
    px_val: np.ndarray | None = None
    #: ``(views, n, d)`` text features of every text view of the training pairs
    y_views: np.ndarray | None = None
    #: fusion methods: the attached text's features, and whether an item has any
    a_train: np.ndarray | None = None
    has_train: np.ndarray | None = None
    #: language -> the text features of the validation pairs' names in it (the caption's
    #: where a pair has none) and which pairs have one; filled when training draws texts in
    #: several languages (``text_field=mixed``) from a folder that names its emojis
    val_names: dict[str, tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict)


def split_val(data: PairedData, fraction: float, seed: int) -> tuple[PairedData, PairedData]:
    """Hold out whole concepts, so that no validation caption was trained on."""
    concepts = sorted(set(data.concepts))
    rng = np.random.default_rng([seed, 7])
    held = set(
        np.array(concepts, dtype=object)[rng.permutation(len(concepts))][
            : max(1, round(fraction * len(concepts)))
        ].tolist()
    )
    val = [n for n, c in enumerate(data.concepts) if c in held]
    train = [n for n, c in enumerate(data.concepts) if c not in held]
    if len(train) < 2 or len(val) < 2:
        raise UsageError(
            f"{len(data)} pairs are too few to hold out a validation set; give val_data"
        )
    return data.subset(train), data.subset(val)


def cache_dir(config: TrainConfig) -> Path:
    if config.run.cache_dir:
        return Path(config.run.cache_dir).expanduser()
    from xmodal.datasets.openmoji import cache_dir as openmoji_cache

    return openmoji_cache() / "features"


def stage(bars: ProgressBars | None, desc: str, unit: str) -> ProgressFactory | None:
    return None if bars is None else bars(desc, unit)


def prepare_data(config: TrainConfig, method: Method, bars: ProgressBars | None) -> Prepared:
    """Loads the pairs and computes what ``method`` reads of them."""
    from xmodal.encoders.registry import get_encoder

    field_: Any = config.data.text_field
    train_data = load_pairs(config.data.train_data, field_)
    if config.data.val_data:
        val_data = load_pairs(config.data.val_data, "annotation" if field_ == "mixed" else field_)
    else:
        train_data, val_data = split_val(train_data, config.data.val_fraction, config.seed)
    if config.data.extra_styles:
        train_data = _add_styles(train_data, config, bars)
    image_enc = None if method.needs_pixels else get_encoder(config.model.image_encoder)
    text_enc = None if method.image_only else get_encoder(config.model.text_encoder)
    # the item side sees pictures or hears recordings
    for enc, need in ((image_enc, ("image", "audio")), (text_enc, ("text",))):
        if enc is not None and not any(str(m) in need for m in enc.spec.modalities):
            raise UsageError(f"encoder {enc.name!r} does not embed {need[0]}s")
        if enc is not None and enc.lexical:
            raise UsageError(f"encoder {enc.name!r} is lexical; it makes no feature vectors")
    cache = cache_dir(config)
    p = Prepared(train_data, val_data, image_enc, text_enc)
    if image_enc is not None:
        images = stage(bars, f"{image_enc.name} image features", "item")
        p.x_train = image_features(train_data, image_enc, cache, images)
        p.x_val = image_features(val_data, image_enc, cache, images)
    if text_enc is not None:
        _text_features(p, text_enc, cache, bars)
        if field_ == "mixed":
            p.val_names = _val_names(p.val, text_enc, cache, bars)
    if method.fusion is not None:
        _prepare_attached(p, cache, bars)
    if method.needs_pixels:
        from xmodal.learn.models import cnn_decode_side

        size = config.model.image_size
        side = cnn_decode_side(size)
        big = round(size * _PIXEL_MARGIN)
        decoding = stage(bars, "decoding images", "item")
        p.px_train = pixel_arrays(train_data, big, cache, decoding, side)
        p.px_val = pixel_arrays(val_data, size, cache, decoding, side)
    return p


def _text_features(p: Prepared, text_enc: Encoder, cache: Path, bars: ProgressBars | None) -> None:
    """The captions' features, and those of every other text view of the training pairs."""
    texts = stage(bars, f"{text_enc.name} text features", "item")
    p.y_train = text_features(p.train, text_enc, cache, "query", texts)
    p.y_val = text_features(p.val, text_enc, cache, "query", texts)
    if p.train.views:
        p.y_views = np.stack(
            [p.y_train]
            + [
                text_features(
                    dataclasses.replace(p.train, texts=v), text_enc, cache, "query", texts
                )
                for v in p.train.text_views()[1:]
            ]
        )


def language_names(data: PairedData) -> dict[str, tuple[str, ...]]:
    """Each language's name of each pair's emoji ("" where it has none), read from the
    prepared OpenMoji folder the pairs came from; empty for pairs from anywhere else."""
    path = Path(data.source) / ITEMS_FILE
    if not data.source or not path.is_file():
        return {}
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    by_id = {str(it["hexcode"]): it.get("names") or {} for it in items}
    langs = sorted({lang for names in by_id.values() for lang in names})
    return {
        lang: tuple(
            str((by_id.get(i, {}).get(lang) or {}).get("annotation", "")).strip() for i in data.ids
        )
        for lang in langs
    }


def _val_names(
    val: PairedData, text_enc: Encoder, cache: Path, bars: ProgressBars | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for lang, names in language_names(val).items():
        has = np.array([bool(n) for n in names])
        if not has.any():
            continue
        texts = tuple(n or t for n, t in zip(names, val.texts, strict=True))
        progress = stage(bars, f"{text_enc.name} {lang} validation names", "item")
        feats = text_features(
            dataclasses.replace(val, texts=texts), text_enc, cache, "query", progress
        )
        out[lang] = (feats, has)
    return out


def _prepare_attached(p: Prepared, cache: Path, bars: ProgressBars | None) -> None:
    """Attached-text features for the fusion tower; validation items keep all of theirs."""
    from xmodal.learn.data import attached_texts
    from xmodal.learn.models import fusion_rows

    assert p.text_encoder is not None and p.x_val is not None
    progress = stage(bars, f"{p.text_encoder.name} text features", "item")
    feats: list[np.ndarray] = []
    has: list[np.ndarray] = []
    for data in (p.train, p.val):
        texts = attached_texts(data)
        with_text = dataclasses.replace(data, texts=tuple(t or " " for t in texts))
        feats.append(text_features(with_text, p.text_encoder, cache, "passage", progress))
        has.append(np.array([bool(t.strip()) for t in texts]))
    p.a_train, p.has_train = feats[0], has[0]
    p.x_val = fusion_rows([p.x_val, feats[1]], np.stack([np.ones_like(has[1]), has[1]], 1))


def _add_styles(data: PairedData, config: TrainConfig, bars: ProgressBars | None) -> PairedData:
    """The OpenMoji pairs plus each extra style's drawings of the same emojis."""
    from xmodal.datasets.emoji_styles import drawings_for
    from xmodal.learn.models import cnn_decode_side

    if not Path(data.source).is_dir():
        raise UsageError("extra_styles needs a prepared OpenMoji folder as training data")
    row_of = {h: n for n, h in enumerate(data.ids)}
    size = max(96, cnn_decode_side(config.model.image_size))
    for style in config.data.extra_styles:
        drawings = drawings_for(
            style,
            list(row_of),
            cache_dir(config) / "styles" / style / str(size),
            size,
            progress=stage(bars, f"{style} drawings", "emoji"),
        )
        rows = [row_of[d.emoji.hexcode] for d in drawings]
        data = data.with_images(rows, [d.path for d in drawings], f"{style}:")
    return data
