"""What a training run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
