"""What a run writes and reads back: the kept model's directory, and the checkpoint of the
last epoch that a resumed run continues from.

The checkpoint is ``OUT/checkpoint/``: weights and optimizer state (safetensors) and
``state.json``, written last, naming the other two by their hashes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.errors import UsageError, XmodalError
from xmodal.learn._io import file_digest, load_numpy_safetensors, save_numpy_safetensors, write_json
from xmodal.learn.config import TrainConfig
from xmodal.learn.methods import Method
from xmodal.learn.modeldir import CONFIG_FILE, write_model_dir
from xmodal.learn.prepare import Prepared

if TYPE_CHECKING:
    import torch

    from xmodal.encoders.base import Encoder

CHECKPOINT_DIR = "checkpoint"
#: configuration options that may change between a run and its resumption
_RESUMABLE = {
    "resume",
    "epochs",
    "patience",
    "keep",
    "progress",
    "command",
    "device",
    "cache_dir",
}
#: history entries' keys that are not validation metrics
_NOT_METRICS = ("epoch", "loss", "temperature")


@dataclass(slots=True)
class RunState:
    epoch: int = 0
    best: tuple[float, float] = (-1.0, -1.0)
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def best_metrics(self) -> dict[str, Any]:
        """The validation metrics of the kept epoch."""
        best = next((h for h in self.history if h["epoch"] == self.best_epoch), {})
        return {k: v for k, v in best.items() if k not in _NOT_METRICS}


# -- the model directory -------------------------------------------------------------------


def _encoders_json(p: Prepared) -> dict[str, Any]:
    def one(enc: Encoder | None) -> dict[str, Any] | None:
        if enc is None:
            return None
        return {"name": enc.name, "fingerprint": enc.spec.fingerprint(), "spec": enc.spec.to_json()}

    return {"image": one(p.image_encoder), "text": one(p.text_encoder)}


def base_config(
    config: TrainConfig, method: Method, p: Prepared, dim: int, arch: Mapping[str, Any]
) -> dict[str, Any]:
    """The model directory's ``config.json`` before training adds its results."""
    image_pre: dict[str, Any] = (
        {
            "input": "pixels",
            "size": config.model.image_size,
            "resample": "bilinear",
            "range": [-1, 1],
        }
        if method.needs_pixels
        else {"input": "encoder"}
    )
    return {
        "method": method.name,
        "dim": dim,
        "joint": method.joint,
        "arch": dict(arch),
        "encoders": _encoders_json(p),
        "preprocessing": {
            "image": image_pre,
            "text_role": "query",
            "text_field": config.data.text_field,
        },
        "training": {
            "config": config.to_json(),
            "command": config.run.command,
            "train_pairs": len(p.train),
            "val_pairs": len(p.val),
        },
    }


def write_best(out: Path, model: torch.nn.Module, base: Mapping[str, Any], run: RunState) -> None:
    body = dict(base)
    best = next((h for h in run.history if h["epoch"] == run.best_epoch), {})
    body["metrics"] = {"val": run.best_metrics()}
    body["temperature"] = best.get("temperature")
    body["best_epoch"] = run.best_epoch
    body["history"] = run.history
    write_model_dir(out, state_arrays(model), body)


def finalise_config(out: Path, run: RunState, curves: Path | None) -> None:
    """Record the whole history (epochs after the best one too) in the model's config."""
    path = out / CONFIG_FILE
    body = json.loads(path.read_text(encoding="utf-8"))
    body["history"] = run.history
    body["epochs_run"] = run.epoch
    body["curves"] = curves.name if curves is not None else None
    write_json(path, body)


# -- weights and optimizer state as arrays -------------------------------------------------


def state_arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
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


# -- the checkpoint ----------------------------------------------------------------------


def _comparable(cfg: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k not in _RESUMABLE}


def save_checkpoint(
    out: Path,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    run: RunState,
    config: TrainConfig,
) -> None:
    ck = out / CHECKPOINT_DIR
    save_numpy_safetensors(ck / "weights.safetensors", state_arrays(model))
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


def load_checkpoint(
    out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, config: TrainConfig, device: str
) -> RunState:
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
    return RunState(
        epoch=int(state["epoch"]),
        best=(float(state["best"][0]), float(state["best"][1])),
        best_epoch=int(state["best_epoch"]),
        bad_epochs=int(state["bad_epochs"]),
        history=list(state["history"]),
    )
