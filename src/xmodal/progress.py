"""Progress reporting: the library reports to a ``Progress``; clients choose how to show it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...

    def close(self) -> object: ...


ProgressFactory = Callable[[int], Progress]


class SilentProgress:
    """A progress that shows nothing, for output that goes to a file or a pipe."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def start_progress(progress: ProgressFactory | None, total: int) -> Progress:
    """A progress of ``total`` steps from the caller's factory, or a silent one without it,
    so that library loops report without asking whether anyone listens."""
    return progress(total) if progress else SilentProgress()


def bars_wanted(stream: TextIO | None = None) -> bool:
    """Whether to draw bars on ``stream`` (stderr): on a terminal, unless ``XMODAL_PROGRESS``
    says otherwise (``1`` forces bars, ``0`` turns them off)."""
    forced = os.environ.get("XMODAL_PROGRESS", "")
    if forced:
        return forced != "0"
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def progress_bar(desc: str, unit: str = "file", scale: bool = False) -> ProgressFactory:
    """A factory of terminal progress bars on stderr, for clients that want one; silent when
    stderr is not a terminal, so that logs get no carriage-return noise. ``scale`` shows large
    counts (bytes) with k / M / G prefixes."""

    def factory(total: int) -> Progress:
        if not bars_wanted():
            return SilentProgress()
        from tqdm import tqdm

        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=scale,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    return factory
