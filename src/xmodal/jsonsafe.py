"""Numbers as JSON can hold them: JSON has no NaN or infinity, so those are written as null
(a median rank of "never found", an undefined p-value)."""

from __future__ import annotations

import math


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float when it is finite, else ``None``."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
