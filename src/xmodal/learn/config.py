"""Everything that decides a training run, grouped by what it configures.

On disk and on the command line a configuration is one flat mapping of option names
(``dim=64``, ``lr=0.003``: the ``--set KEY=VALUE`` of ``xmodal train``, the ``training.config``
of a model directory's ``config.json``, a checkpoint's ``state.json``); option names are
unique across the groups, so :meth:`TrainConfig.from_json` puts each where it belongs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from xmodal.errors import UsageError
from xmodal.learn.methods import get_method
from xmodal.progress import ProgressFactory

#: how a run reports its long steps: given a step's description and its unit ("item",
#: "batch"), a factory of the progress that step reports to (``xmodal.progress.progress_bar``
#: fits)
ProgressBars = Callable[[str, str], ProgressFactory]


@dataclass(frozen=True, slots=True, kw_only=True)
class DataConfig:
    """``train_data``/``val_data`` are a prepared OpenMoji folder (``items.json``) or a
    manifest (``image_path<TAB>text``; see :mod:`xmodal.learn.data`); without ``val_data``
    a seeded ``val_fraction`` of the training concepts is held out."""

    train_data: str
    val_data: str | None = None
    val_fraction: float = 0.1
    #: OpenMoji text per pair: "annotation" (the caption), "tags", "document" (both), or
    #: "mixed": each step draws one of the three per pair (validation uses the caption)
    text_field: str = "annotation"
    #: OpenMoji sources: also train on the train concepts drawn in these styles
    #: (:data:`xmodal.datasets.emoji_styles.STYLES`), so the model sees one thing drawn by
    #: several hands
    extra_styles: list[str] = field(default_factory=list)
    #: draw batches evenly across categories (OpenMoji group, manifest third column);
    #: ``balance_power`` 1 evens them fully, 0 samples as the data is
    balance: bool = False
    balance_power: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelConfig:
    #: frozen feature encoders (registry names); the CNN methods read pixels instead
    image_encoder: str = "classic"
    text_encoder: str = "minilm"
    #: dimension of the joint space
    dim: int = 128
    #: projection head: "mlp" (two layers with dropout) or "linear"
    head: str = "mlp"
    hidden: int = 512
    dropout: float = 0.1
    #: CNN methods: input side in pixels and the first stage's channel count
    image_size: int = 96
    cnn_width: int = 32
    #: residual blocks per CNN stage after the first
    cnn_blocks: int = 0
    #: CCA: PCA of each side first (None: none), and the power of the training correlation
    #: that weights each shared axis
    pca_dims: int | None = 128
    component_power: float = 1.0
    #: neural methods: start from the weights of this model directory (one of the same
    #: architecture and frozen encoders, e.g. an earlier model to train further on more
    #: data) instead of from random ones
    init_from: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LossConfig:
    #: InfoNCE: initial temperature and whether it is learned
    temperature: float = 0.07
    learn_temperature: bool = True
    #: triplet methods: margin on cosine distance and the negative mining strategy
    margin: float = 0.2
    mining: str = "semi-hard"
    #: weight of a second InfoNCE, between each pair's caption and another of its text
    #: views (its tags, its name in another language) through the text head, so that one
    #: thing's words, in any language, stay together in the joint space; 0: none
    text_align: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimConfig:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    #: epochs without a better validation recall@10 before stopping
    patience: int = 5
    #: the weights the model directory keeps: "best" (the epoch with the best validation
    #: recall@10, the starting weights included) or "last" (the final epoch's: for a run
    #: whose validation measures only part of what it trains for, e.g. one of its languages)
    keep: str = "best"


@dataclass(frozen=True, slots=True, kw_only=True)
class AugmentConfig:
    """What a training step hides or changes (the CNN's picture views are
    :class:`xmodal.learn.models.Augment`'s)."""

    #: fusion methods: the chance that an item's attached text is hidden at a training step
    attached_dropout: float = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    #: the model directory to write (``model.safetensors``, ``config.json``, checkpoint)
    out: str
    #: continue from ``out/checkpoint`` (same settings; ``epochs`` and ``patience`` may grow)
    resume: bool = False
    #: "auto" (CUDA when torch sees a GPU), "cpu" or "cuda[:N]"
    device: str = "auto"
    #: where frozen features are cached; default ``$XMODAL_CACHE/features``
    cache_dir: str | None = None
    #: per-epoch lines and the balance report on stderr, and the progress of fetching the
    #: extra styles' drawings (bars of the run's own steps come from ``train``'s caller)
    progress: bool = True
    #: the command line that started the run, recorded in ``config.json``
    command: str | None = None


#: the option groups of :class:`TrainConfig`, by attribute name
_GROUPS: dict[str, type[Any]] = {
    "data": DataConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "augment": AugmentConfig,
    "optim": OptimConfig,
    "run": RunConfig,
}
#: the group each flat option belongs to
_GROUP_OF: dict[str, str] = {f.name: group for group, cls in _GROUPS.items() for f in fields(cls)}
#: options of no group
_TOP = ("method", "seed")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """Everything that decides a training run (see :mod:`xmodal.learn.methods` for
    ``method``)."""

    data: DataConfig
    run: RunConfig
    method: str = "heads-infonce"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    #: every random draw of the run comes from generators seeded by it
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        """The flat mapping of every option."""
        flat: dict[str, Any] = {"method": self.method}
        for group in _GROUPS:
            flat.update(asdict(getattr(self, group)))
        flat["seed"] = self.seed
        return flat

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        """From the flat mapping of options (those left out keep their defaults); a missing
        ``train_data`` or ``out`` is a ``TypeError``, as a missing argument is."""
        unknown = sorted(k for k in data if k not in _GROUP_OF and k not in _TOP)
        if unknown:
            raise UsageError(f"unknown training option(s): {', '.join(unknown)}")
        grouped: dict[str, dict[str, Any]] = {group: {} for group in _GROUPS}
        for key, value in data.items():
            if key in _GROUP_OF:
                grouped[_GROUP_OF[key]][key] = value
        styles = grouped["data"].get("extra_styles")
        if isinstance(styles, str):
            # `--set extra_styles=twemoji,openmoji-black` without JSON brackets
            grouped["data"]["extra_styles"] = [s for s in styles.split(",") if s]
        top = {k: data[k] for k in _TOP if k in data}
        return cls(**top, **{g: _GROUPS[g](**kw) for g, kw in grouped.items()})

    def validate(self) -> None:
        get_method(self.method)
        from xmodal.learn.losses import MINING

        d, m, o = self.data, self.model, self.optim
        if self.loss.mining not in MINING:
            raise UsageError(f"mining must be one of {', '.join(MINING)}, got {self.loss.mining!r}")
        if m.head not in ("linear", "mlp"):
            raise UsageError(f"head must be 'linear' or 'mlp', got {m.head!r}")
        if d.text_field not in ("annotation", "tags", "document", "mixed"):
            raise UsageError("text_field must be 'annotation', 'tags', 'document' or 'mixed'")
        from xmodal.datasets.emoji_styles import STYLES

        unknown = [s for s in d.extra_styles if s not in STYLES]
        if unknown:
            raise UsageError(
                f"unknown extra style(s) {', '.join(unknown)}; known: {', '.join(STYLES)}"
            )
        positive = (
            ("dim", m.dim),
            ("epochs", o.epochs),
            ("batch_size", o.batch_size),
            ("hidden", m.hidden),
            ("image_size", m.image_size),
            ("cnn_width", m.cnn_width),
        )
        for name, value in positive:
            if int(value) < 1:
                raise UsageError(f"{name} must be positive, got {value}")
        if m.cnn_blocks < 0:
            raise UsageError(f"cnn_blocks must be 0 or more, got {m.cnn_blocks}")
        if not self.loss.text_align >= 0:
            raise UsageError(f"text_align must be 0 or more, got {self.loss.text_align}")
        dropout = self.augment.attached_dropout
        if not 0.0 <= dropout <= 1.0:
            raise UsageError(f"attached_dropout must be in [0, 1], got {dropout}")
        if o.batch_size < 2:
            raise UsageError("batch_size must be at least 2: a contrastive batch needs negatives")
        if o.keep not in ("best", "last"):
            raise UsageError(f"keep must be 'best' or 'last', got {o.keep!r}")
        if o.patience < 1:
            raise UsageError(f"patience must be at least 1, got {o.patience}")
        if not o.lr > 0:
            raise UsageError(f"lr must be positive, got {o.lr}")
        if not 0.0 < self.data.val_fraction < 1.0:
            raise UsageError(f"val_fraction must be between 0 and 1, got {self.data.val_fraction}")
        device = self.run.device
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise UsageError(f"device must be auto, cpu or cuda[:N], got {device!r}")
