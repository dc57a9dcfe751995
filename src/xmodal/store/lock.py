"""The collection's single-writer lock (an advisory ``flock``, released by the kernel when the
holder dies, so a killed index run never leaves a stale lock)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Self

from xmodal.closing import Closing
from xmodal.errors import CollectionLockedError

LOCK_NAME = "write.lock"


class WriteLock(Closing):
    def __init__(self, root: Path, wait: float = 0.0) -> None:
        self.path = root / LOCK_NAME
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> Self:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise CollectionLockedError(
                        f"collection {self.path.parent} is being written by another process "
                        f"(pid {holder}); wait for it to finish or pass --wait SECONDS"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def close(self) -> None:
        """Release the lock (a no-op when it is not held)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
