"""Each benchmark's preparation options as a frozen dataclass: names, types, defaults, help.

A benchmark declares its record with fields whose metadata is :func:`doc` and builds it from keyword
values with :func:`make_options`, which refuses an unknown name or a value of the wrong
type with a one-line ``UsageError``, whoever the caller is (the CLI or a script).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from xmodal.errors import UsageError

T = TypeVar("T")

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", Path: "a path"}


def doc(help_text: str) -> dict[str, str]:
    """The metadata of an options field: its one-line help text."""
    return {"help": help_text}


def _accepted(hint: Any) -> tuple[Any, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def _convert(kind: Any, value: object) -> tuple[bool, object]:
    """Whether ``value`` is of ``kind``, and the value as stored."""
    if kind is type(None):
        return value is None, None
    if kind is Path:
        ok = isinstance(value, str | os.PathLike)
        return ok, Path(value) if ok else None  # type: ignore[arg-type]
    if kind is int:
        # bool is an int to Python, but never a count or a size
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, kind), value


def _type_name(hint: Any) -> str:
    names = [_TYPE_NAMES.get(k, getattr(k, "__name__", str(k))) for k in _accepted(hint)]
    return " or ".join("none" if n == "NoneType" else n for n in names)


def make_options(cls: type[T], values: Mapping[str, object], *, benchmark: str) -> T:
    """``cls`` (an options dataclass) built from ``values``, checked by name and type."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    checked: dict[str, object] = {}
    for name, value in values.items():
        if name not in fields:
            raise UsageError(
                f"{benchmark} has no option {name!r}; its options: {', '.join(fields)}"
            )
        for kind in _accepted(hints[name]):
            ok, stored = _convert(kind, value)
            if ok:
                checked[name] = stored
                break
        else:
            help_text = fields[name].metadata.get("help", "")
            raise UsageError(
                f"{benchmark}: option {name} ({help_text}) must be "
                f"{_type_name(hints[name])}, got {value!r}"
            )
    return cls(**checked)
