"""Metadata filters on search (modality, modification date, path pattern, tags, flags) from
what a user typed."""

from __future__ import annotations

from datetime import UTC, date, datetime

from xmodal.errors import UsageError
from xmodal.records import Modality
from xmodal.store.filters import Filters

__all__ = ["Filters", "parse_date", "parse_modalities"]


def parse_date(text: str) -> float:
    """``YYYY-MM-DD`` or an ISO date-time to a POSIX timestamp (UTC unless an offset is given)."""
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"not a date: {text!r} (use YYYY-MM-DD)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_modalities(values: list[str] | None) -> frozenset[Modality]:
    out = set()
    for v in values or []:
        for part in v.split(","):
            try:
                out.add(Modality(part.strip().lower()))
            except ValueError:
                known = ", ".join(m.value for m in Modality)
                raise UsageError(f"unknown type {part!r}; choose from {known}") from None
    return frozenset(out)
