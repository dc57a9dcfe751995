"""Learning joint image-text spaces: losses, models, data, training, classical baselines.

The entry point is :func:`xmodal.learn.train.train` with a
:class:`~xmodal.learn.config.TrainConfig`; the methods it trains are described in
:mod:`xmodal.learn.methods`; a trained model directory is used for indexing
and search as the encoder ``trained:DIR`` (:mod:`xmodal.learn.encoder`). Submodules are
imported on first use, so ``import xmodal.learn`` loads neither torch nor scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "xmodal.learn.config",
    "TrainResult": "xmodal.learn.result",
    "train": "xmodal.learn.train",
    "evaluate_model": "xmodal.learn.validate",
    "METHODS": "xmodal.learn.methods",
    "load_model": "xmodal.learn.encoder",
    "prepare_openmoji_splits": "xmodal.learn.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xmodal.learn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
