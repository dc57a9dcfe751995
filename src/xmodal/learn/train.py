"""Training a joint image-text space: one entry point, :func:`train`, for every method.

Methods:

- ``heads-infonce`` / ``heads-triplet``: projection heads over frozen image and text
  features, trained with symmetric InfoNCE or a mined triplet loss;
- ``cnn-infonce`` / ``cnn-triplet``: a small CNN learns the pictures from their pixels (with
  augmentation) while a head maps the frozen text features;
- ``fusion-concat`` / ``fusion-sum`` / ``fusion-attention``: the item side fuses its pixels'
  features with the text attached to it (OpenMoji's tags), some of which is hidden at each
  step so the model also works on pictures alone; trained with InfoNCE;
- ``cca``, ``pls``, ``svd``, ``nmf``: classical joint spaces (:mod:`xmodal.learn.baselines`);
- ``pca``, ``lda``: compressed image features (an image-only space).

A run is reproducible: everything random is drawn from generators seeded by ``(seed,
epoch)``, so an epoch depends on the weights it starts from and nothing else, and resuming
from the checkpoint written after epoch ``e`` gives the weights an uninterrupted run has.
The run keeps the model with the best validation text→image recall@10 (ties, common on
small validation sets, go to the better MRR) and stops after ``patience`` epochs without
improvement; epoch 0 in the history is the untrained model, the baseline every epoch is
measured against.

The output directory::

    OUT/model.safetensors, OUT/config.json   the kept model (see xmodal.learn.modeldir)
    OUT/curves.png                           training loss and validation recall per epoch
    OUT/checkpoint/                          the last epoch: weights and optimizer
                                             (safetensors) and state.json, written last
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.errors import UsageError, XmodalError
from xmodal.eval.metrics import evaluate
from xmodal.learn._io import file_digest, load_numpy_safetensors, save_numpy_safetensors, write_json
from xmodal.learn.baselines import BASELINES, JOINT_BASELINES, FittedBaseline, fit_baseline
from xmodal.learn.data import (
    BalancedBatchSampler,
    PairedData,
    balance_report,
    format_balance_report,
    image_features,
    load_pairs,
    pixel_arrays,
    shuffled_batches,
    text_features,
)
from xmodal.learn.modeldir import CONFIG_FILE, write_model_dir

if TYPE_CHECKING:
    import torch

    from xmodal.encoders.base import Encoder
    from xmodal.learn.models import JointModel

FUSION_METHODS: tuple[str, ...] = ("fusion-concat", "fusion-sum", "fusion-attention")
NEURAL_METHODS: tuple[str, ...] = (
    "heads-infonce",
    "heads-triplet",
    "cnn-infonce",
    "cnn-triplet",
    *FUSION_METHODS,
)
METHODS: tuple[str, ...] = (*NEURAL_METHODS, *BASELINES)

#: the validation number that picks the best epoch and stops training
SELECTION_METRIC = "t2i_recall@10"
#: breaks ties of the selection metric, which on small validation sets often saturates
TIEBREAK_METRIC = "t2i_mrr"
CHECKPOINT_DIR = "checkpoint"
CURVES_FILE = "curves.png"
#: validation rankings are cut here; deeper ranks change no metric at the cutoffs reported
_RUN_DEPTH = 100
#: training pictures are kept this much larger than the input size, so random crops zoom
#: into real detail instead of upsampling
_PIXEL_MARGIN = 1.25
#: configuration fields that may change between a run and its resumption
_RESUMABLE = {"resume", "epochs", "patience", "progress", "command", "device", "cache_dir"}


@dataclass(slots=True)
class TrainConfig:
    """Everything that decides a training run. ``train_data``/``val_data`` are a prepared
    OpenMoji folder or a manifest (see :mod:`xmodal.learn.data`); without ``val_data`` a
    seeded ``val_fraction`` of the training concepts is held out."""

    #: a prepared OpenMoji folder (``items.json``) or a manifest (``image_path<TAB>text``)
    train_data: str
    #: the model directory to write (``model.safetensors``, ``config.json``, checkpoint)
    out: str
    #: one of :data:`METHODS`
    method: str = "heads-infonce"
    val_data: str | None = None
    val_fraction: float = 0.1
    #: frozen feature encoders (registry names); the CNN methods read pixels instead
    image_encoder: str = "classic"
    text_encoder: str = "minilm"
    #: OpenMoji text per pair: "annotation" (the caption), "tags", "document" (both), or
    #: "mixed": each step draws one of the three per pair (validation uses the caption)
    text_field: str = "annotation"
    #: OpenMoji sources: also train on the train concepts drawn in these styles
    #: (:data:`xmodal.datasets.emoji_styles.STYLES`), so the model sees one thing drawn by
    #: several hands
    extra_styles: list[str] = field(default_factory=list)
    #: dimension of the joint space
    dim: int = 128
    #: projection head: "mlp" (two layers with dropout) or "linear"
    head: str = "mlp"
    hidden: int = 512
    dropout: float = 0.1
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    #: InfoNCE: initial temperature and whether it is learned
    temperature: float = 0.07
    learn_temperature: bool = True
    #: triplet methods: margin on cosine distance and the negative mining strategy
    margin: float = 0.2
    mining: str = "semi-hard"
    #: fusion methods: the chance that an item's attached text is hidden at a training step
    attached_dropout: float = 0.5
    #: draw batches evenly across categories (OpenMoji group, manifest third column);
    #: ``balance_power`` 1 evens them fully, 0 samples as the data is
    balance: bool = False
    balance_power: float = 1.0
    #: CNN methods: input side in pixels and the first stage's channel count
    image_size: int = 96
    cnn_width: int = 32
    #: residual blocks per CNN stage after the first
    cnn_blocks: int = 0
    #: CCA: PCA of each side first (None: none), and the power of the training correlation
    #: that weights each shared axis
    pca_dims: int | None = 128
    component_power: float = 1.0
    seed: int = 0
    #: continue from ``out/checkpoint`` (same settings; ``epochs`` and ``patience`` may grow)
    resume: bool = False
    #: epochs without a better validation recall@10 before stopping
    patience: int = 5
    #: "auto" (CUDA when torch sees a GPU), "cpu" or "cuda[:N]"
    device: str = "auto"
    #: where frozen features are cached; default ``$XMODAL_CACHE/features``
    cache_dir: str | None = None
    #: progress bars and per-epoch lines on stderr
    progress: bool = True
    #: the command line that started the run, recorded in ``config.json``
    command: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UsageError(f"unknown training option(s): {', '.join(unknown)}")
        fields = dict(data)
        if isinstance(fields.get("extra_styles"), str):
            # `--set extra_styles=twemoji,openmoji-black` without JSON brackets
            fields["extra_styles"] = [s for s in fields["extra_styles"].split(",") if s]
        return cls(**fields)

    def validate(self) -> None:
        if self.method not in METHODS:
            raise UsageError(f"unknown method {self.method!r}; use one of {', '.join(METHODS)}")
        from xmodal.learn.losses import MINING

        if self.mining not in MINING:
            raise UsageError(f"mining must be one of {', '.join(MINING)}, got {self.mining!r}")
        if self.head not in ("linear", "mlp"):
            raise UsageError(f"head must be 'linear' or 'mlp', got {self.head!r}")
        if self.text_field not in ("annotation", "tags", "document", "mixed"):
            raise UsageError("text_field must be 'annotation', 'tags', 'document' or 'mixed'")
        from xmodal.datasets.emoji_styles import STYLES

        unknown = [s for s in self.extra_styles if s not in STYLES]
        if unknown:
            raise UsageError(
                f"unknown extra style(s) {', '.join(unknown)}; known: {', '.join(STYLES)}"
            )
        for name in ("dim", "epochs", "batch_size", "hidden", "image_size", "cnn_width"):
            if int(getattr(self, name)) < 1:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        if self.cnn_blocks < 0:
            raise UsageError(f"cnn_blocks must be 0 or more, got {self.cnn_blocks}")
        if not 0.0 <= self.attached_dropout <= 1.0:
            raise UsageError(f"attached_dropout must be in [0, 1], got {self.attached_dropout}")
        if self.batch_size < 2:
            raise UsageError("batch_size must be at least 2: a contrastive batch needs negatives")
        if self.patience < 1:
            raise UsageError(f"patience must be at least 1, got {self.patience}")
        if not self.lr > 0:
            raise UsageError(f"lr must be positive, got {self.lr}")
        if not 0.0 < self.val_fraction < 1.0:
            raise UsageError(f"val_fraction must be between 0 and 1, got {self.val_fraction}")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise UsageError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")


@dataclass(frozen=True, slots=True)
class TrainResult:
    out: Path
    method: str
    #: validation metrics of the kept model (``t2i_recall@10`` and friends)
    metrics: dict[str, float]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, Any]]
    seconds: float
    balance: dict[str, Any] | None = None
    curves: Path | None = None
    notes: list[str] = field(default_factory=list)


# -- validation ----------------------------------------------------------------------------


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
    first: dict[int, int] = {}
    for n, c in enumerate(concepts.tolist()):
        first.setdefault(c, n)
    q_rows = np.array(sorted(first.values()), dtype=np.int64)
    image_ids = [f"i{n}" for n in range(len(data))]
    out: dict[str, float] = {}

    t2i = text_emb[q_rows] @ image_emb.T
    qrels = {
        f"q{r}": {image_ids[j]: 1 for j in np.flatnonzero(concepts == concepts[r])}
        for r in q_rows.tolist()
    }
    run = _top_run([f"q{r}" for r in q_rows.tolist()], image_ids, t2i)
    out.update({f"t2i_{k}": v for k, v in evaluate(qrels, run, ks).means.items()})

    text_ids = [f"t{r}" for r in q_rows.tolist()]
    i2t = image_emb @ text_emb[q_rows].T
    text_of_concept = {int(concepts[r]): f"t{r}" for r in q_rows.tolist()}
    qrels_i = {image_ids[n]: {text_of_concept[int(concepts[n])]: 1} for n in range(len(data))}
    run_i = _top_run(image_ids, text_ids, i2t)
    out.update({f"i2t_{k}": v for k, v in evaluate(qrels_i, run_i, ks).means.items()})
    return out


def _top_run(
    qids: Sequence[str], docids: Sequence[str], scores: np.ndarray
) -> dict[str, dict[str, float]]:
    depth = min(_RUN_DEPTH, scores.shape[1])
    top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    return {
        q: {docids[j]: float(scores[i, j]) for j in top[i].tolist()} for i, q in enumerate(qids)
    }


def _summary(metrics: Mapping[str, float]) -> dict[str, float]:
    keys = [
        f"{d}_{m}" for d in ("t2i", "i2t") for m in ("recall@1", "recall@5", "recall@10", "mrr")
    ]
    return {k: float(metrics[k]) for k in keys if k in metrics}


# -- data ----------------------------------------------------------------------------------


def _split_val(data: PairedData, fraction: float, seed: int) -> tuple[PairedData, PairedData]:
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


def _cache_dir(config: TrainConfig) -> Path:
    if config.cache_dir:
        return Path(config.cache_dir).expanduser()
    from xmodal.datasets.openmoji import cache_dir

    return cache_dir() / "features"


@dataclass(slots=True)
class _Prepared:
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


def _prepare_data(config: TrainConfig) -> _Prepared:
    from xmodal.encoders.registry import get_encoder

    field_: Any = config.text_field
    train_data = load_pairs(config.train_data, field_)
    if config.val_data:
        val_data = load_pairs(config.val_data, "annotation" if field_ == "mixed" else field_)
    else:
        train_data, val_data = _split_val(train_data, config.val_fraction, config.seed)
    if config.extra_styles:
        train_data = _add_styles(train_data, config)
    cnn = config.method.startswith("cnn-")
    image_only = config.method in ("pca", "lda")
    image_enc = None if cnn else get_encoder(config.image_encoder)
    text_enc = None if image_only else get_encoder(config.text_encoder)
    for enc, need in ((image_enc, "image"), (text_enc, "text")):
        if enc is not None and not any(str(m) == need for m in enc.spec.modalities):
            raise UsageError(f"encoder {enc.name!r} does not embed {need}s")
        if enc is not None and enc.lexical:
            raise UsageError(f"encoder {enc.name!r} is lexical; it makes no feature vectors")
    cache = _cache_dir(config)
    p = _Prepared(train_data, val_data, image_enc, text_enc)
    if image_enc is not None:
        p.x_train = image_features(train_data, image_enc, cache, config.progress)
        p.x_val = image_features(val_data, image_enc, cache, config.progress)
    if text_enc is not None:
        p.y_train = text_features(train_data, text_enc, cache, "query", config.progress)
        p.y_val = text_features(val_data, text_enc, cache, "query", config.progress)
        if train_data.views:
            p.y_views = np.stack(
                [p.y_train]
                + [
                    text_features(
                        dataclasses.replace(train_data, texts=v),
                        text_enc,
                        cache,
                        "query",
                        config.progress,
                    )
                    for v in train_data.text_views()[1:]
                ]
            )
    if config.method in FUSION_METHODS:
        _prepare_attached(p, config, cache)
    if cnn:
        from xmodal.learn.models import cnn_decode_side

        side = cnn_decode_side(config.image_size)
        big = round(config.image_size * _PIXEL_MARGIN)
        p.px_train = pixel_arrays(train_data, big, cache, config.progress, side)
        p.px_val = pixel_arrays(val_data, config.image_size, cache, config.progress, side)
    return p


def _prepare_attached(p: _Prepared, config: TrainConfig, cache: Path) -> None:
    """Attached-text features for the fusion tower; validation items keep all of theirs."""
    from xmodal.learn.data import attached_texts
    from xmodal.learn.models import fusion_rows

    assert p.text_encoder is not None and p.x_val is not None
    feats: list[np.ndarray] = []
    has: list[np.ndarray] = []
    for data in (p.train, p.val):
        texts = attached_texts(data)
        with_text = dataclasses.replace(data, texts=tuple(t or " " for t in texts))
        feats.append(text_features(with_text, p.text_encoder, cache, "passage", config.progress))
        has.append(np.array([bool(t.strip()) for t in texts]))
    p.a_train, p.has_train = feats[0], has[0]
    p.x_val = fusion_rows([p.x_val, feats[1]], np.stack([np.ones_like(has[1]), has[1]], 1))


def _add_styles(data: PairedData, config: TrainConfig) -> PairedData:
    """The OpenMoji pairs plus each extra style's drawings of the same emojis."""
    from xmodal.datasets.emoji_styles import drawings_for
    from xmodal.learn.models import cnn_decode_side

    if not Path(data.source).is_dir():
        raise UsageError("extra_styles needs a prepared OpenMoji folder as training data")
    row_of = {h: n for n, h in enumerate(data.ids)}
    size = max(96, cnn_decode_side(config.image_size))
    for style in config.extra_styles:
        drawings = drawings_for(
            style,
            list(row_of),
            _cache_dir(config) / "styles" / style / str(size),
            size,
            progress=config.progress,
        )
        rows = [row_of[d.emoji.hexcode] for d in drawings]
        data = data.with_images(rows, [d.path for d in drawings], f"{style}:")
    return data


def _encoders_json(p: _Prepared) -> dict[str, Any]:
    def one(enc: Encoder | None) -> dict[str, Any] | None:
        if enc is None:
            return None
        return {"name": enc.name, "fingerprint": enc.spec.fingerprint(), "spec": enc.spec.to_json()}

    return {"image": one(p.image_encoder), "text": one(p.text_encoder)}


def _base_config(
    config: TrainConfig, p: _Prepared, dim: int, arch: Mapping[str, Any]
) -> dict[str, Any]:
    cnn = config.method.startswith("cnn-")
    image_pre: dict[str, Any] = (
        {"input": "pixels", "size": config.image_size, "resample": "bilinear", "range": [-1, 1]}
        if cnn
        else {"input": "encoder"}
    )
    return {
        "method": config.method,
        "dim": dim,
        "joint": config.method not in ("pca", "lda"),
        "arch": dict(arch),
        "encoders": _encoders_json(p),
        "preprocessing": {
            "image": image_pre,
            "text_role": "query",
            "text_field": config.text_field,
        },
        "training": {
            "config": config.to_json(),
            "command": config.command,
            "train_pairs": len(p.train),
            "val_pairs": len(p.val),
        },
    }


# -- the entry point -----------------------------------------------------------------------


def train(config: TrainConfig) -> TrainResult:
    """Train (or fit) ``config.method`` and write the model directory ``config.out``."""
    config.validate()
    started = time.monotonic()
    out = Path(config.out).expanduser().absolute()
    checkpoint = out / CHECKPOINT_DIR / "state.json"
    if config.resume and config.method in NEURAL_METHODS and not checkpoint.is_file():
        raise UsageError(f"nothing to resume: no checkpoint in {out / CHECKPOINT_DIR}")
    prepared = _prepare_data(config)
    if config.method in NEURAL_METHODS:
        return _train_neural(config, prepared, out, started)
    return _fit_baseline(config, prepared, out, started)


def _fit_baseline(config: TrainConfig, p: _Prepared, out: Path, started: float) -> TrainResult:
    assert p.x_train is not None and p.x_val is not None
    model = fit_baseline(
        config.method,
        p.x_train,
        p.y_train,
        config.dim,
        labels=list(p.train.groups),
        seed=config.seed,
        pca_dims=config.pca_dims,
        power=config.component_power,
    )
    metrics = _baseline_metrics(model, p)
    body = _base_config(config, p, model.dim, model.arch())
    body["metrics"] = {"val": metrics}
    body["fit"] = model.info
    write_model_dir(out, model.arrays(), body)
    return TrainResult(
        out=out,
        method=config.method,
        metrics=metrics,
        best_epoch=0,
        epochs_run=0,
        stopped_early=False,
        history=[],
        seconds=time.monotonic() - started,
    )


def _baseline_metrics(model: FittedBaseline, p: _Prepared) -> dict[str, float]:
    assert p.x_val is not None
    if model.text is None or model.method not in JOINT_BASELINES or p.y_val is None:
        return {}
    return _summary(retrieval_metrics(model.image(p.x_val), model.text(p.y_val), p.val))


# -- neural training -----------------------------------------------------------------------


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {device!r} asked for, but torch sees no CUDA device")
    return device


def _arch(config: TrainConfig, p: _Prepared) -> dict[str, Any]:
    from xmodal.learn.models import CnnConfig, HeadConfig, HeadKind

    assert p.y_train is not None
    head: HeadKind = "linear" if config.head == "linear" else "mlp"
    image: dict[str, Any]
    if config.method in FUSION_METHODS:
        from xmodal.learn.models import FusionConfig

        assert p.x_train is not None and p.a_train is not None
        kind: Any = config.method.removeprefix("fusion-")
        image = FusionConfig(
            (p.x_train.shape[1], p.a_train.shape[1]), config.dim, kind, config.hidden,
            config.dropout,
        ).to_json()  # fmt: skip
    elif config.method.startswith("cnn-"):
        image = CnnConfig(
            config.dim, config.image_size, config.cnn_width, config.dropout, config.cnn_blocks
        ).to_json()
    else:
        assert p.x_train is not None
        image = HeadConfig(
            p.x_train.shape[1], config.dim, head, config.hidden, config.dropout
        ).to_json()
    text = HeadConfig(p.y_train.shape[1], config.dim, head, config.hidden, config.dropout).to_json()
    return {
        "image": image,
        "text": text,
        "temperature": config.temperature,
        "learn_temperature": config.learn_temperature,
    }


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.default_rng([seed, epoch, 1]).integers(0, 2**62))


def _lr_at(config: TrainConfig, step: int, total: int, per_epoch: int) -> float:
    """Linear warm-up, then cosine decay to zero: a function of the step alone, so resuming
    needs no scheduler state."""
    warm = config.warmup_epochs * per_epoch
    if step < warm:
        return config.lr * (step + 1) / warm
    span = max(1, total - warm)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warm) / span)))


def _state_arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def _load_state(model: torch.nn.Module, arrays: Mapping[str, np.ndarray]) -> None:
    import torch

    state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise XmodalError(
            f"weights do not fit the model: missing {sorted(missing)}, "
            f"unexpected {sorted(unexpected)}"
        )


def _optimizer_arrays(opt: torch.optim.Optimizer) -> tuple[dict[str, np.ndarray], list[Any]]:
    sd = opt.state_dict()
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, dict[str, float]] = {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            if hasattr(value, "detach"):
                arrays[f"{pid}.{name}"] = value.detach().cpu().numpy().copy()
            else:
                scalars.setdefault(str(pid), {})[name] = float(value)
    return arrays, [sd["param_groups"], scalars]


def _load_optimizer(
    opt: torch.optim.Optimizer, arrays: Mapping[str, np.ndarray], meta: list[Any], device: str
) -> None:
    import torch

    groups, scalars = meta
    state: dict[int, dict[str, Any]] = {}
    for key, value in arrays.items():
        pid, _, name = key.partition(".")
        state.setdefault(int(pid), {})[name] = torch.from_numpy(np.array(value)).to(device)
    for pid, named in scalars.items():
        state.setdefault(int(pid), {}).update(named)
    for st in state.values():
        # Adam keeps its step count on the CPU unless it runs fused or capturable
        if "step" in st and hasattr(st["step"], "cpu"):
            st["step"] = st["step"].cpu()
    opt.load_state_dict({"state": state, "param_groups": groups})


@dataclass(slots=True)
class _RunState:
    epoch: int = 0
    best: tuple[float, float] = (-1.0, -1.0)
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _score(metrics: Mapping[str, float]) -> tuple[float, float]:
    return (metrics.get(SELECTION_METRIC, 0.0), metrics.get(TIEBREAK_METRIC, 0.0))


def _comparable(cfg: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k not in _RESUMABLE}


def _save_checkpoint(
    out: Path,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    run: _RunState,
    config: TrainConfig,
) -> None:
    ck = out / CHECKPOINT_DIR
    save_numpy_safetensors(ck / "weights.safetensors", _state_arrays(model))
    opt_arrays, opt_meta = _optimizer_arrays(opt)
    save_numpy_safetensors(ck / "optimizer.safetensors", opt_arrays)
    # written last: the commit marker, naming the files it belongs with by their hashes
    write_json(
        ck / "state.json",
        {
            "epoch": run.epoch,
            "best": list(run.best),
            "best_epoch": run.best_epoch,
            "bad_epochs": run.bad_epochs,
            "history": run.history,
            "config": config.to_json(),
            "optimizer": opt_meta,
            "weights_sha256": file_digest(ck / "weights.safetensors"),
            "optimizer_sha256": file_digest(ck / "optimizer.safetensors"),
        },
    )


def _load_checkpoint(
    out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, config: TrainConfig, device: str
) -> _RunState:
    ck = out / CHECKPOINT_DIR
    state = json.loads((ck / "state.json").read_text(encoding="utf-8"))
    saved, now = _comparable(state["config"]), _comparable(config.to_json())
    if saved != now:
        diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        raise UsageError(
            f"the checkpoint in {ck} was made with other settings ({', '.join(diff)}); "
            "resume with the same settings or train into a new directory"
        )
    for name, key in (("weights", "weights_sha256"), ("optimizer", "optimizer_sha256")):
        if file_digest(ck / f"{name}.safetensors") != state[key]:
            raise XmodalError(f"checkpoint {ck} is incomplete ({name} do not match state.json)")
    _load_state(model, load_numpy_safetensors(ck / "weights.safetensors"))
    _load_optimizer(
        opt, load_numpy_safetensors(ck / "optimizer.safetensors"), state["optimizer"], device
    )
    return _RunState(
        epoch=int(state["epoch"]),
        best=(float(state["best"][0]), float(state["best"][1])),
        best_epoch=int(state["best_epoch"]),
        bad_epochs=int(state["bad_epochs"]),
        history=list(state["history"]),
    )


class _Batches:
    """Turns index batches into model inputs (features, or augmented pixels)."""

    def __init__(self, config: TrainConfig, p: _Prepared, device: str) -> None:
        import torch

        from xmodal.learn.models import Augment

        self.device = device
        self.cnn = config.method.startswith("cnn-")
        assert p.y_train is not None
        self.y = torch.from_numpy(p.y_train).to(device)
        self.y_views = None if p.y_views is None else torch.from_numpy(p.y_views).to(device)
        self.concepts = torch.from_numpy(p.train.concept_ids()).to(device)
        if self.cnn:
            assert p.px_train is not None
            # kept on the device as uint8, so a batch's views are made where the model runs
            self.pixels = torch.from_numpy(p.px_train).to(device)
            self.augment = Augment(size=config.image_size)
        else:
            assert p.x_train is not None
            self.x = torch.from_numpy(p.x_train).to(device)
        self.attached = None if p.a_train is None else torch.from_numpy(p.a_train).to(device)
        self.has = None if p.has_train is None else torch.from_numpy(p.has_train).to(device)
        self.attached_dropout = config.attached_dropout

    def images(self, idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        import torch

        rows = torch.from_numpy(idx).to(self.device)
        if self.attached is not None and self.has is not None:
            keep = torch.from_numpy(rng.random(len(idx)) >= self.attached_dropout)
            keep = keep.to(self.device) & self.has[rows]
            flags = torch.stack([torch.ones_like(keep), keep], 1).float()
            return torch.cat([self.x[rows], self.attached[rows] * flags[:, 1:], flags], 1)
        if not self.cnn:
            return self.x[rows]
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        return self.augment(self.pixels[rows], generator)

    def texts(self, idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        import torch

        rows = torch.from_numpy(idx).to(self.device)
        if self.y_views is None:
            return self.y[rows]
        which = torch.from_numpy(rng.integers(0, len(self.y_views), len(idx))).to(self.device)
        return self.y_views[which, rows]


def _embed_val(model: JointModel, p: _Prepared, device: str) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from xmodal.learn.models import uint8_to_tensor

    model.eval()
    chunks_i: list[np.ndarray] = []
    chunks_t: list[np.ndarray] = []
    with torch.no_grad():
        n = len(p.val)
        for s in range(0, n, 256):
            if model.image_takes_pixels:
                assert p.px_val is not None
                xi = uint8_to_tensor(p.px_val[s : s + 256]).to(device)
            else:
                assert p.x_val is not None
                xi = torch.from_numpy(p.x_val[s : s + 256]).to(device)
            assert p.y_val is not None
            yt = torch.from_numpy(p.y_val[s : s + 256]).to(device)
            chunks_i.append(model.encode_image(xi).cpu().numpy())
            chunks_t.append(model.encode_text(yt).cpu().numpy())
    return np.concatenate(chunks_i), np.concatenate(chunks_t)


def _train_neural(config: TrainConfig, p: _Prepared, out: Path, started: float) -> TrainResult:
    import torch

    from xmodal.learn.losses import TripletLoss, info_nce
    from xmodal.learn.models import JointModel

    device = resolve_device(config.device)
    arch = _arch(config, p)
    torch.manual_seed(config.seed)
    model = JointModel(arch).to(device)
    # the temperature is a scale, not a weight: decaying it would pull it towards 1
    decay = [w for n, w in model.named_parameters() if not n.startswith("temperature.")]
    no_decay = [w for n, w in model.named_parameters() if n.startswith("temperature.")]
    param_groups: list[dict[str, Any]] = [
        {"params": decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(
        param_groups,
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    triplet = TripletLoss(config.margin, config.mining)  # type: ignore[arg-type]
    infonce = config.method.endswith("-infonce")

    sampler = (
        BalancedBatchSampler(p.train.groups, config.batch_size, config.balance_power)
        if config.balance
        else None
    )

    def batches_for(epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([config.seed, epoch, 0])
        if sampler is not None:
            return sampler.epoch(rng)
        return shuffled_batches(len(p.train), config.batch_size, rng)

    balance = balance_report(p.train.groups, batches_for(0)) if config.balance else None
    if balance is not None and config.progress:
        print(format_balance_report(balance), file=sys.stderr)
    per_epoch = len(batches_for(0))
    total = per_epoch * config.epochs
    feeder = _Batches(config, p, device)
    base = _base_config(config, p, config.dim, arch)
    base["balance"] = balance
    notes: list[str] = []

    if config.resume:
        run = _load_checkpoint(out, model, opt, config, device)
        notes.append(f"resumed after epoch {run.epoch}")
    else:
        run = _RunState()
        untrained = _summary(retrieval_metrics(*_embed_val(model, p, device), p.val))
        run.history.append({"epoch": 0, "loss": None, "temperature": None, **untrained})
        run.best = _score(untrained)
        _write_best(out, model, base, run, balance)

    stopped_early = run.bad_epochs >= config.patience
    while run.epoch < config.epochs and not stopped_early:
        epoch = run.epoch
        rng = np.random.default_rng([config.seed, epoch, 2])
        torch.manual_seed(_epoch_seed(config.seed, epoch))
        model.train()
        losses: list[float] = []
        bar = _bar(per_epoch, f"epoch {epoch + 1}/{config.epochs}", config.progress)
        try:
            for step, idx in enumerate(batches_for(epoch)):
                lr = _lr_at(config, epoch * per_epoch + step, total, per_epoch)
                for g in opt.param_groups:
                    g["lr"] = lr
                xi = feeder.images(idx, rng)
                yt = feeder.texts(idx, rng)
                groups = feeder.concepts[torch.from_numpy(idx).to(device)]
                zi, zt = model.encode_image(xi), model.encode_text(yt)
                if infonce:
                    loss = info_nce(zi, zt, model.temperature(), groups)
                else:
                    loss = triplet(zi, zt, groups)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        finally:
            if bar is not None:
                bar.close()
        val = _summary(retrieval_metrics(*_embed_val(model, p, device), p.val))
        run.epoch = epoch + 1
        run.history.append(
            {
                "epoch": run.epoch,
                "loss": float(np.mean(losses)) if losses else None,
                "temperature": model.temperature.temperature,
                **val,
            }
        )
        score = _score(val)
        if score > run.best:
            run.best, run.best_epoch, run.bad_epochs = score, run.epoch, 0
            _write_best(out, model, base, run, balance)
        else:
            run.bad_epochs += 1
        _save_checkpoint(out, model, opt, run, config)
        stopped_early = run.bad_epochs >= config.patience
        if config.progress:
            print(
                f"epoch {run.epoch}: loss {run.history[-1]['loss']:.4f}, "
                f"val {SELECTION_METRIC} {score[0]:.4f} "
                f"(best {run.best[0]:.4f} at epoch {run.best_epoch})",
                file=sys.stderr,
            )

    curves = plot_curves(run.history, out / CURVES_FILE)
    _finalise_config(out, run, curves)
    best = next(h for h in run.history if h["epoch"] == run.best_epoch)
    metrics = {k: v for k, v in best.items() if k not in ("epoch", "loss", "temperature")}
    return TrainResult(
        out=out,
        method=config.method,
        metrics=metrics,
        best_epoch=run.best_epoch,
        epochs_run=run.epoch,
        stopped_early=stopped_early,
        history=run.history,
        seconds=time.monotonic() - started,
        balance=balance,
        curves=curves,
        notes=notes,
    )


def _bar(total: int, desc: str, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit="batch", file=sys.stderr, dynamic_ncols=True, leave=False
    )


def _write_best(
    out: Path,
    model: torch.nn.Module,
    base: Mapping[str, Any],
    run: _RunState,
    balance: dict[str, Any] | None,
) -> None:
    body = dict(base)
    best = next((h for h in run.history if h["epoch"] == run.best_epoch), {})
    body["metrics"] = {
        "val": {k: v for k, v in best.items() if k not in ("epoch", "loss", "temperature")}
    }
    body["temperature"] = best.get("temperature")
    body["best_epoch"] = run.best_epoch
    body["history"] = run.history
    write_model_dir(out, _state_arrays(model), body)


def _finalise_config(out: Path, run: _RunState, curves: Path | None) -> None:
    """Record the whole history (epochs after the best one too) in the model's config."""
    path = out / CONFIG_FILE
    body = json.loads(path.read_text(encoding="utf-8"))
    body["history"] = run.history
    body["epochs_run"] = run.epoch
    body["curves"] = curves.name if curves is not None else None
    write_json(path, body)


def plot_curves(history: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """Training loss and validation recall per epoch, as a PNG (drawn on its own canvas, so
    the process's matplotlib backend is left alone)."""
    if not history:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from xmodal.learn._io import atomic_write

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_val = fig.subplots(1, 2)
    trained = [h for h in history if h.get("loss") is not None]
    ax_loss.plot([h["epoch"] for h in trained], [h["loss"] for h in trained], marker="o")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("loss")
    ax_loss.grid(alpha=0.3)
    epochs = [h["epoch"] for h in history]
    for key in ("t2i_recall@1", "t2i_recall@5", "t2i_recall@10", "i2t_recall@10"):
        if all(key in h for h in history):
            ax_val.plot(epochs, [h[key] for h in history], marker=".", label=key)
    ax_val.set_xlabel("epoch (0 = untrained)")
    ax_val.set_ylabel("validation")
    ax_val.set_title("validation retrieval")
    ax_val.set_ylim(0, 1)
    ax_val.grid(alpha=0.3)
    ax_val.legend(loc="lower right", fontsize=8)
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png")

    return atomic_write(path, write)


# -- evaluating a saved model --------------------------------------------------------------


def evaluate_model(
    model_dir: str | Path,
    data: str | Path | PairedData,
    ks: Sequence[int] = (1, 5, 10),
    text_field: str = "annotation",
    progress: bool = False,
) -> dict[str, float]:
    """Text→image and image→text metrics of a saved model on pairs it was not trained on
    (a prepared OpenMoji split or a manifest), embedding images and texts the way the
    ``trained:DIR`` encoder does."""
    from xmodal.learn.data import read_image
    from xmodal.learn.encoder import TrainedEncoder, load_model

    pairs = data if isinstance(data, PairedData) else load_pairs(data, text_field)  # type: ignore[arg-type]
    model = load_model(model_dir)
    side = TrainedEncoder(model).input_side
    if not model.joint:
        raise UsageError(f"{model_dir} holds an image-only space ({model.method}): no texts")
    emb_i: list[np.ndarray] = []
    step = 64
    for s in range(0, len(pairs), step):
        batch = [read_image(p, side) for p in pairs.images[s : s + step]]
        emb_i.append(model.embed_images(batch))
    emb_t = model.embed_texts(list(pairs.texts), role="query")
    return retrieval_metrics(np.concatenate(emb_i), emb_t, pairs, ks)
