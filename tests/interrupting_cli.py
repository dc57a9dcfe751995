"""``xmodal`` that presses Ctrl-C on itself: ``python interrupting_cli.py BATCHES BATCH ARGS``
runs ``xmodal ARGS`` with ``BATCH`` files per encoder call, a commit after every batch, and a
SIGINT sent to its own process right after the ``BATCHES``-th commit, so a test interrupts a
run at a known point without depending on how fast the machine is.

``INTERRUPT_SIGNAL=KILL`` sends SIGKILL instead (a crash), and ``INTERRUPT_WHEN=before`` sends
it as the ``BATCHES``-th write begins, with that batch encoded but not committed."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from xmodal.cli.app import main
from xmodal.collection import Collection
from xmodal.ingest.pipeline import IndexOptions
from xmodal.store.sqlite import Store


def _patch(batches: int, batch: int) -> None:
    write_batch: Callable[..., list[str]] = Store.write_batch
    index: Callable[..., Any] = Collection.index
    done = [0]

    sig = getattr(signal, "SIG" + os.environ.get("INTERRUPT_SIGNAL", "INT"))
    before = os.environ.get("INTERRUPT_WHEN") == "before"

    def interrupting_write(self: Store, *args: Any, **kwargs: Any) -> list[str]:
        if before and args and args[0] and done[0] + 1 == batches:
            os.kill(os.getpid(), sig)
        ids = write_batch(self, *args, **kwargs)
        if args and args[0]:
            done[0] += 1
            if done[0] == batches and not before:
                os.kill(os.getpid(), sig)
        return ids

    def small_batches(self: Collection, *args: Any, **kwargs: Any) -> Any:
        options = kwargs.get("options") or IndexOptions()
        kwargs["options"] = dataclasses.replace(options, batch_size=batch)
        kwargs["commit_every"] = 0.0
        return index(self, *args, **kwargs)

    Store.write_batch = interrupting_write  # type: ignore[method-assign]
    Collection.index = small_batches  # type: ignore[method-assign]


if __name__ == "__main__":
    _patch(int(sys.argv[1]), int(sys.argv[2]))
    sys.exit(main(sys.argv[3:]))
