"""Metadata filters on search: modality, modification date, path pattern."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from xmodal.errors import UsageError
from xmodal.records import Modality


@dataclass(frozen=True, slots=True)
class Filters:
    modalities: frozenset[Modality] = frozenset()
    after: float | None = None
    before: float | None = None
    path_globs: tuple[str, ...] = ()
    #: only items carrying every one of these tags (metadata ``tags``, see ``xmodal tag``)
    tags: tuple[str, ...] = ()
    #: leave out items a content policy flagged (metadata ``flags``, see ``xmodal flag``)
    exclude_flagged: bool = False

    def is_empty(self) -> bool:
        return (
            not (self.modalities or self.path_globs or self.tags or self.exclude_flagged)
            and self.after is None
            and (self.before is None)
        )

    def where(self) -> tuple[str, list[object]]:
        """A SQL condition on the ``items`` table (aliased ``i``) and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        if self.modalities:
            clauses.append(f"i.modality IN ({','.join('?' * len(self.modalities))})")
            params.extend(sorted(str(m) for m in self.modalities))
        if self.after is not None:
            clauses.append("i.mtime >= ?")
            params.append(self.after)
        if self.before is not None:
            clauses.append("i.mtime < ?")
            params.append(self.before)
        if self.path_globs:
            # GLOB is case-sensitive and uses the same * ? [...] syntax as the shell
            clauses.append("(" + " OR ".join("i.path GLOB ?" for _ in self.path_globs) + ")")
            params.extend(self.path_globs)
        clauses.extend(_metadata_clauses(self, params))
        return (" AND ".join(clauses) if clauses else "1"), params


def _metadata_clauses(filters: Filters, params: list[object]) -> list[str]:
    """Conditions on the lists ``xmodal tag`` and ``xmodal flag`` keep in item metadata."""
    clauses = []
    for tag in filters.tags:
        clauses.append(
            "EXISTS (SELECT 1 FROM json_each(i.metadata, '$.tags') WHERE json_each.value = ?)"
        )
        params.append(tag)
    if filters.exclude_flagged:
        clauses.append("COALESCE(json_array_length(i.metadata, '$.flags'), 0) = 0")
    return clauses


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
