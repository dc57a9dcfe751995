"""Metadata filters as the store applies them: a condition on the items table.

The record lives with the store because what it means is SQL over the store's columns; the
query layer builds it from what a user typed (``xmodal.query.filters``).
"""

from __future__ import annotations

from dataclasses import dataclass

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
