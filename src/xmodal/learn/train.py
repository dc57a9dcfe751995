"""Training a joint image-text space: one entry point, :func:`train`, for every method of
:mod:`xmodal.learn.methods`.

A run is described by a :class:`~xmodal.learn.config.TrainConfig`; its data is made ready by
:mod:`xmodal.learn.prepare`; neural methods train in :mod:`xmodal.learn.loop` (validation:
:mod:`xmodal.learn.validate`, checkpoints: :mod:`xmodal.learn.checkpoint`, curves:
:mod:`xmodal.learn.plots`), baselines are fitted here in one step.

The output directory::

    OUT/model.safetensors, OUT/config.json   the kept model (see xmodal.learn.modeldir)
    OUT/curves.png                           training loss and validation recall per epoch
    OUT/checkpoint/                          the last epoch: weights and optimizer
                                             (safetensors) and state.json, written last
"""

from __future__ import annotations

import time
from pathlib import Path

from xmodal.errors import UsageError
from xmodal.learn.baselines import FittedBaseline, fit_baseline
from xmodal.learn.checkpoint import CHECKPOINT_DIR, base_config
from xmodal.learn.config import ProgressBars, TrainConfig
from xmodal.learn.loop import train_neural
from xmodal.learn.methods import FUSION_METHODS, METHODS, Method, get_method
from xmodal.learn.modeldir import write_model_dir
from xmodal.learn.prepare import Prepared, prepare_data, stage
from xmodal.learn.result import TrainResult
from xmodal.learn.validate import evaluate_model, retrieval_metrics, summary

__all__ = [
    "FUSION_METHODS",
    "METHODS",
    "TrainConfig",
    "TrainResult",
    "evaluate_model",
    "train",
]


def train(config: TrainConfig, progress: ProgressBars | None = None) -> TrainResult:
    """Train (or fit) ``config.method`` and write the model directory ``config.run.out``;
    feature extraction, each epoch and a baseline's fit report to a progress made by
    ``progress`` (``xmodal.progress.progress_bar`` fits)."""
    config.validate()
    method = get_method(config.method)
    started = time.monotonic()
    out = Path(config.run.out).expanduser().absolute()
    checkpoint = out / CHECKPOINT_DIR / "state.json"
    if config.run.resume and method.neural and not checkpoint.is_file():
        raise UsageError(f"nothing to resume: no checkpoint in {out / CHECKPOINT_DIR}")
    prepared = prepare_data(config, method, progress)
    if method.neural:
        return train_neural(config, method, prepared, out, started, progress)
    return _fit_baseline(config, method, prepared, out, started, progress)


def _fit_baseline(
    config: TrainConfig,
    method: Method,
    p: Prepared,
    out: Path,
    started: float,
    bars: ProgressBars | None,
) -> TrainResult:
    assert p.x_train is not None and p.x_val is not None
    factory = stage(bars, f"fitting {method.name}", "model")
    progress = None if factory is None else factory(1)
    try:
        model = fit_baseline(
            method.name,
            p.x_train,
            p.y_train,
            config.model.dim,
            labels=list(p.train.groups),
            seed=config.seed,
            pca_dims=config.model.pca_dims,
            power=config.model.component_power,
        )
        if progress is not None:
            progress.update(1)
    finally:
        if progress is not None:
            progress.close()
    metrics = _baseline_metrics(model, method, p)
    body = base_config(config, method, p, model.dim, model.arch())
    body["metrics"] = {"val": metrics}
    body["fit"] = model.info
    write_model_dir(out, model.arrays(), body)
    return TrainResult(
        out=out,
        method=method.name,
        metrics=metrics,
        best_epoch=0,
        epochs_run=0,
        stopped_early=False,
        history=[],
        seconds=time.monotonic() - started,
    )


def _baseline_metrics(model: FittedBaseline, method: Method, p: Prepared) -> dict[str, float]:
    assert p.x_val is not None
    if model.text is None or method.image_only or p.y_val is None:
        return {}
    return summary(retrieval_metrics(model.image(p.x_val), model.text(p.y_val), p.val))
