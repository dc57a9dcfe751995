"""Progress reporting: the library reports to a ``Progress``; clients choose how to show it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...

    def close(self) -> object: ...


ProgressFactory = Callable[[int], Progress]


def progress_bar(desc: str, unit: str = "file") -> ProgressFactory:
    """A factory of terminal progress bars on stderr, for clients that want one."""

    def factory(total: int) -> Progress:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)

    return factory
