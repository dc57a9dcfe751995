"""The training loop of the neural methods: towers trained by AdamW, epoch by epoch.

Everything random is drawn from generators seeded by ``(seed, epoch)``, so an epoch depends
on the weights it starts from and nothing else, and resuming from the checkpoint written
after epoch ``e`` gives the weights an uninterrupted run has. The run keeps the model with
the best validation text→image recall@10 (ties go to the better MRR) and stops after
``patience`` epochs without improvement; epoch 0 in the history is the untrained model.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.errors import UsageError
from xmodal.learn.checkpoint import (
    RunState,
    base_config,
    finalise_config,
    load_checkpoint,
    save_checkpoint,
    write_best,
)
from xmodal.learn.config import OptimConfig, ProgressBars, TrainConfig
from xmodal.learn.methods import Method
from xmodal.learn.plots import CURVES_FILE, plot_curves
from xmodal.learn.prepare import Prepared, stage
from xmodal.learn.result import TrainResult
from xmodal.learn.sampling import (
    BalancedBatchSampler,
    balance_report,
    format_balance_report,
    shuffled_batches,
)
from xmodal.learn.validate import score, score_name, validate_prepared
from xmodal.progress import Progress

if TYPE_CHECKING:
    import torch

    from xmodal.learn.models import JointModel


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {device!r} asked for, but torch sees no CUDA device")
    return device


def _arch(config: TrainConfig, method: Method, p: Prepared) -> dict[str, Any]:
    from xmodal.learn.models import CnnConfig, FusionConfig, HeadConfig
    from xmodal.learn.models.heads import HeadKind

    m = config.model
    assert p.y_train is not None
    head: HeadKind = "linear" if m.head == "linear" else "mlp"
    image: dict[str, Any]
    if method.fusion is not None:
        assert p.x_train is not None and p.a_train is not None
        in_dims = (p.x_train.shape[1], p.a_train.shape[1])
        image = FusionConfig(in_dims, m.dim, method.fusion, m.hidden, m.dropout).to_json()
    elif method.needs_pixels:
        image = CnnConfig(m.dim, m.image_size, m.cnn_width, m.dropout, m.cnn_blocks).to_json()
    else:
        assert p.x_train is not None
        image = HeadConfig(p.x_train.shape[1], m.dim, head, m.hidden, m.dropout).to_json()
    text = HeadConfig(p.y_train.shape[1], m.dim, head, m.hidden, m.dropout).to_json()
    return {
        "image": image,
        "text": text,
        "temperature": config.loss.temperature,
        "learn_temperature": config.loss.learn_temperature,
    }


def _optimizer(model: torch.nn.Module, optim: OptimConfig) -> torch.optim.Optimizer:
    import torch

    # the temperature is a scale, not a weight: decaying it would pull it towards 1
    decay = [w for n, w in model.named_parameters() if not n.startswith("temperature.")]
    no_decay = [w for n, w in model.named_parameters() if n.startswith("temperature.")]
    param_groups: list[dict[str, Any]] = [
        {"params": decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(param_groups, lr=optim.lr, weight_decay=optim.weight_decay)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.default_rng([seed, epoch, 1]).integers(0, 2**62))


def _lr_at(optim: OptimConfig, step: int, total: int, per_epoch: int) -> float:
    """Linear warm-up, then cosine decay to zero: a function of the step alone, so resuming
    needs no scheduler state."""
    warm = optim.warmup_epochs * per_epoch
    if step < warm:
        return optim.lr * (step + 1) / warm
    span = max(1, total - warm)
    return optim.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warm) / span)))


class _Batches:
    """Turns index batches into model inputs (features, or augmented pixels)."""

    def __init__(self, config: TrainConfig, method: Method, p: Prepared, device: str) -> None:
        import torch

        from xmodal.learn.models import Augment

        self.device = device
        self.pixels_in = method.needs_pixels
        assert p.y_train is not None
        self.y = torch.from_numpy(p.y_train).to(device)
        self.y_views = None if p.y_views is None else torch.from_numpy(p.y_views).to(device)
        self.concepts = torch.from_numpy(p.train.concept_ids()).to(device)
        if self.pixels_in:
            assert p.px_train is not None
            # kept on the device as uint8, so a batch's views are made where the model runs
            self.pixels = torch.from_numpy(p.px_train).to(device)
            self.augment = Augment(size=config.model.image_size)
        else:
            assert p.x_train is not None
            self.x = torch.from_numpy(p.x_train).to(device)
        self.attached = None if p.a_train is None else torch.from_numpy(p.a_train).to(device)
        self.has = None if p.has_train is None else torch.from_numpy(p.has_train).to(device)
        self.attached_dropout = config.augment.attached_dropout

    def images(self, idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        import torch

        rows = torch.from_numpy(idx).to(self.device)
        if self.attached is not None and self.has is not None:
            keep = torch.from_numpy(rng.random(len(idx)) >= self.attached_dropout)
            keep = keep.to(self.device) & self.has[rows]
            flags = torch.stack([torch.ones_like(keep), keep], 1).float()
            return torch.cat([self.x[rows], self.attached[rows] * flags[:, 1:], flags], 1)
        if not self.pixels_in:
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

    def caption_and_other(
        self, idx: np.ndarray, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Each pair's caption and one of its other text views, drawn at random (None when
        the pairs have one text each)."""
        import torch

        if self.y_views is None or len(self.y_views) < 2:
            return None
        rows = torch.from_numpy(idx).to(self.device)
        other = rng.integers(1, len(self.y_views), len(idx))
        return self.y_views[0, rows], self.y_views[torch.from_numpy(other).to(self.device), rows]


class _Trainer:
    """The model, its optimizer and loss, and the batches of each epoch."""

    def __init__(self, config: TrainConfig, method: Method, p: Prepared, device: str) -> None:
        import torch

        from xmodal.learn.losses import TripletLoss
        from xmodal.learn.models import JointModel

        self.config, self.method, self.p, self.device = config, method, p, device
        self.arch = _arch(config, method, p)
        torch.manual_seed(config.seed)
        self.model: JointModel = JointModel(self.arch).to(device)
        if config.model.init_from:
            _load_initial(self.model, self.arch, p, Path(config.model.init_from).expanduser())
        self.opt = _optimizer(self.model, config.optim)
        self.triplet = TripletLoss(config.loss.margin, config.loss.mining)  # type: ignore[arg-type]
        self.sampler = (
            BalancedBatchSampler(p.train.groups, config.optim.batch_size, config.data.balance_power)
            if config.data.balance
            else None
        )
        self.per_epoch = len(self.batches_for(0))
        self.total = self.per_epoch * config.optim.epochs
        self.feeder = _Batches(config, method, p, device)

    def batches_for(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.config.seed, epoch, 0])
        if self.sampler is not None:
            return self.sampler.epoch(rng)
        return shuffled_batches(len(self.p.train), self.config.optim.batch_size, rng)

    def validate(self) -> dict[str, float]:
        return validate_prepared(self.model, self.p, self.device)

    def _loss(self, idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        import torch

        from xmodal.learn.losses import info_nce

        xi = self.feeder.images(idx, rng)
        yt = self.feeder.texts(idx, rng)
        groups = self.feeder.concepts[torch.from_numpy(idx).to(self.device)]
        zi, zt = self.model.encode_image(xi), self.model.encode_text(yt)
        if self.method.loss == "infonce":
            loss = info_nce(zi, zt, self.model.temperature(), groups)
        else:
            loss = self.triplet(zi, zt, groups)
        weight = self.config.loss.text_align
        pair = self.feeder.caption_and_other(idx, rng) if weight > 0 else None
        if pair is not None:
            za, zb = self.model.encode_text(pair[0]), self.model.encode_text(pair[1])
            loss = loss + weight * info_nce(za, zb, self.model.temperature(), groups)
        return loss

    def train_epoch(self, epoch: int, progress: Progress | None) -> list[float]:
        """One pass over the epoch's batches; the loss of each step."""
        import torch

        rng = np.random.default_rng([self.config.seed, epoch, 2])
        torch.manual_seed(_epoch_seed(self.config.seed, epoch))
        self.model.train()
        losses: list[float] = []
        try:
            for step, idx in enumerate(self.batches_for(epoch)):
                lr = _lr_at(
                    self.config.optim, epoch * self.per_epoch + step, self.total, self.per_epoch
                )
                for g in self.opt.param_groups:
                    g["lr"] = lr
                loss = self._loss(idx, rng)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                losses.append(float(loss.detach()))
                if progress is not None:
                    progress.update(1)
        finally:
            if progress is not None:
                progress.close()
        return losses


def _load_initial(model: JointModel, arch: dict[str, Any], p: Prepared, root: Path) -> None:
    """The weights of the model directory ``root`` into ``model``, which must match it."""
    import torch

    from xmodal.learn.modeldir import read_model_dir

    config, arrays = read_model_dir(root)
    if config.get("arch") != arch:
        raise UsageError(f"init_from {root}: its architecture differs from this run's")
    for role, enc in (("image", p.image_encoder), ("text", p.text_encoder)):
        entry = (config.get("encoders") or {}).get(role)
        theirs = entry.get("fingerprint") if isinstance(entry, dict) else None
        ours = enc.spec.fingerprint() if enc is not None else None
        if theirs != ours:
            raise UsageError(f"init_from {root}: its frozen {role} encoder differs from this run's")
    state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in state.items()}, strict=True)


def _start(t: _Trainer, out: Path, base: dict[str, Any], notes: list[str]) -> RunState:
    """The run state to continue from: the checkpoint's, or the untrained model's."""
    if t.config.run.resume:
        run = load_checkpoint(out, t.model, t.opt, t.config, t.device)
        notes.append(f"resumed after epoch {run.epoch}")
        return run
    run = RunState()
    untrained = t.validate()
    run.history.append({"epoch": 0, "loss": None, "temperature": None, **untrained})
    run.best = score(untrained)
    write_best(out, t.model, base, run)
    return run


def _end_epoch(
    t: _Trainer, run: RunState, losses: list[float], out: Path, base: dict[str, Any]
) -> None:
    """Validates the epoch just trained, keeps the model if it is the best yet, and writes the
    checkpoint."""
    val = t.validate()
    run.epoch += 1
    run.history.append(
        {
            "epoch": run.epoch,
            "loss": float(np.mean(losses)) if losses else None,
            "temperature": t.model.temperature.temperature,
            **val,
        }
    )
    now = score(val)
    if now > run.best:
        run.best, run.best_epoch, run.bad_epochs = now, run.epoch, 0
        write_best(out, t.model, base, run)
    else:
        run.bad_epochs += 1
    save_checkpoint(out, t.model, t.opt, run, t.config)
    if t.config.run.progress:
        print(
            f"epoch {run.epoch}: loss {run.history[-1]['loss']:.4f}, "
            f"val {score_name(val)} {now[0]:.4f} "
            f"(best {run.best[0]:.4f} at epoch {run.best_epoch})",
            file=sys.stderr,
        )


def train_neural(
    config: TrainConfig,
    method: Method,
    p: Prepared,
    out: Path,
    started: float,
    bars: ProgressBars | None = None,
) -> TrainResult:
    """Trains until ``epochs`` or ``patience`` runs out; each epoch's batches are reported to
    a progress from ``bars``."""
    t = _Trainer(config, method, p, resolve_device(config.run.device))
    balance = balance_report(p.train.groups, t.batches_for(0)) if config.data.balance else None
    if balance is not None and config.run.progress:
        print(format_balance_report(balance), file=sys.stderr)
    base = base_config(config, method, p, config.model.dim, t.arch)
    base["balance"] = balance
    notes: list[str] = []
    run = _start(t, out, base, notes)
    epochs, patience = config.optim.epochs, config.optim.patience
    stopped_early = run.bad_epochs >= patience
    while run.epoch < epochs and not stopped_early:
        epoch_bar = stage(bars, f"epoch {run.epoch + 1}/{epochs}", "batch")
        losses = t.train_epoch(run.epoch, None if epoch_bar is None else epoch_bar(t.per_epoch))
        _end_epoch(t, run, losses, out, base)
        stopped_early = run.bad_epochs >= patience
    if config.optim.keep == "last" and run.best_epoch != run.epoch:
        last = run.history[-1]
        run.best, run.best_epoch = score(last), run.epoch
        write_best(out, t.model, base, run)
    curves = plot_curves(run.history, out / CURVES_FILE)
    finalise_config(out, run, curves)
    return TrainResult(
        out=out,
        method=method.name,
        metrics=run.best_metrics(),
        best_epoch=run.best_epoch,
        epochs_run=run.epoch,
        stopped_early=stopped_early,
        history=run.history,
        seconds=time.monotonic() - started,
        balance=balance,
        curves=curves,
        notes=notes,
    )
