"""The JSON form every tower description shares: ``{"type": TYPE, field: value, ...}``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any, ClassVar, Literal, Self, get_args, get_origin, get_type_hints


class TowerConfig:
    """Base of the frozen dataclasses that describe a tower. ``from_json`` reads each field by
    name, with the field's default where the JSON lacks it (so configs saved before a field
    existed still load), converted to the field's type; a ``Literal`` field refuses values
    it does not list."""

    __slots__ = ()
    #: the ``"type"`` a saved tower carries, which picks the class that rebuilds it
    TYPE: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.TYPE}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            body[f.name] = list(value) if isinstance(value, tuple) else value
        return body

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            raw = data[f.name] if f.name in data or f.default is MISSING else f.default
            values[f.name] = _convert(hints[f.name], raw, f"{cls.TYPE} {f.name}")
        return cls(**values)


def _convert(kind: Any, value: Any, what: str) -> Any:
    if get_origin(kind) is Literal:
        if value not in get_args(kind):
            raise ValueError(f"unknown {what} {value!r}")
        return value
    if get_origin(kind) is tuple:
        (item, *_) = get_args(kind)
        return tuple(item(v) for v in value)
    return kind(value)
