"""ONNX Runtime sessions for the clip towers, and who owns the CPU threads.

One owner of the threads: the session's intra-op pool takes every core this process may use
(``XMODAL_THREADS`` overrides), its threads do not spin between operators, and torch is not
imported on this path at all, so no OpenMP pool of its own competes. While indexing, the
decoding threads (``IndexOptions.workers``) run Pillow and NumPy, which release the GIL, on
the same cores: with spinning off, a core the model leaves idle between operators goes to
decoding instead of a busy wait. Measured on 2 cores (docs/benchmarks.md); on 8 or more cores
the same settings hold, the decoders then have cores of their own.

A tower's session is made on its first call, so a text query never loads the image tower.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime


def cpu_cores() -> int:
    """Threads the model runs on: ``XMODAL_THREADS`` if set, else the cores this process may
    use."""
    wanted = os.environ.get("XMODAL_THREADS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def session(path: Path) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpu_cores()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ORT's warnings about unused initializers would land on the CLI's stderr
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class LazyTower:
    """A tower whose session ``make`` builds on the first call; safe across threads."""

    def __init__(self, make: Callable[[], onnxruntime.InferenceSession]) -> None:
        self._make = make
        self._session: onnxruntime.InferenceSession | None = None
        self._input = ""
        self._lock = threading.Lock()

    def _ready(self) -> onnxruntime.InferenceSession:
        with self._lock:
            if self._session is None:
                sess = self._make()
                self._input = sess.get_inputs()[0].name
                self._session = sess
            return self._session

    def __call__(self, x: np.ndarray) -> np.ndarray:
        sess = self._session or self._ready()
        return np.asarray(sess.run(None, {self._input: x})[0])
