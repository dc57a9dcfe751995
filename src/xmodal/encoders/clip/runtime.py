"""ONNX Runtime sessions for the clip towers, and who owns the CPU threads.

One owner of the threads: the session's intra-op pool takes every core this process may use
(``XMODAL_THREADS`` overrides), its threads do not spin between operators, and torch is not
imported on this path at all, so no OpenMP pool of its own competes. While indexing, the
decoding threads (``IndexOptions.workers``) run Pillow and NumPy, which release the GIL, on
the same cores: with spinning off, a core the model leaves idle between operators goes to
decoding instead of a busy wait. Measured on 2 cores (docs/benchmarks.md, "Who owns the
threads"): two spinning threads cost 10-20% more CPU per image than two that sleep; one
thread is the cheapest per image and ``XMODAL_THREADS=1`` saves a little CPU on a machine
other work keeps busy, but leaves a core to decoders that need a sixth of it when the machine
is quiet, so it is not the default. On 8 or more cores the same settings hold, the decoders
then have cores of their own.

A tower's session is made on its first call, so a text query never loads the image tower.
The first session of a graph saves the optimised graph in a folder beside the export, keyed
by ONNX Runtime's version, this CPU and the source graph, with the weights in a file of their
own; later processes load that with the optimisers off, and ONNX Runtime maps the weights
instead of parsing and copying them (0.07 s instead of 0.2-0.35 s for a ViT-B-32 text tower).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import tempfile
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


def _cpu_flags() -> str:
    # the fully optimised graph may use layouts chosen for this CPU's vector instructions
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return platform.processor()


def optimised_path(path: Path, fuse: bool = False) -> Path:
    """Where the optimised copy of the graph ``path`` is kept: in a folder beside the
    export's, which holds the graphs as exported and their meta only."""
    import onnxruntime as ort

    st = path.stat()
    key = f"{ort.__version__}|{platform.machine()}|{_cpu_flags()}|{st.st_size}|{st.st_mtime_ns}"
    if fuse:
        from xmodal.encoders.clip.fuse import FUSE_VERSION

        key += f"|fused {FUSE_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = path.parent.with_name(path.parent.name + ".optimised")
    return folder / f"{path.stem}-{digest}.onnx"


def _options(optimise: bool) -> onnxruntime.SessionOptions:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpu_cores()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    level = ort.GraphOptimizationLevel
    opts.graph_optimization_level = level.ORT_ENABLE_ALL if optimise else level.ORT_DISABLE_ALL
    # ORT's warnings about unused initializers would land on the CLI's stderr
    opts.log_severity_level = 3
    return opts


def _save_optimised(path: Path, kept: Path, fuse: bool) -> onnxruntime.InferenceSession:
    """A session on ``path`` that also writes its optimised graph to ``kept``, the weights
    beside it as external data, which later sessions map from the page cache instead of
    parsing and copying (a third of the load time of a text tower)."""
    import onnxruntime as ort

    data = kept.with_suffix(".data")
    plain = ["CPUExecutionProvider"]
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=kept.parent))
    except OSError:
        # a read-only cache still searches; the next process optimises again
        return ort.InferenceSession(str(path), _options(True), providers=plain)
    try:
        opts = _options(True)
        opts.optimized_model_filepath = str(tmp / kept.name)
        entry = "session.optimized_model_external_initializers_"
        opts.add_session_config_entry(entry + "file_name", data.name)
        opts.add_session_config_entry(entry + "min_size_in_bytes", "1024")
        source = path
        if fuse:
            from xmodal.encoders.clip.fuse import fused_copy

            source = fused_copy(path, tmp) or path
        try:
            sess = ort.InferenceSession(str(source), opts, providers=plain)
        except Exception:  # ORT's own error types; a full disk is one of them
            return ort.InferenceSession(str(path), _options(True), providers=plain)
        for stale in kept.parent.glob(f"{path.stem}-*"):
            if stale.name not in (kept.name, data.name):
                stale.unlink(missing_ok=True)
        # the graph last: its presence says the weights beside it are whole
        os.replace(tmp / data.name, data)
        os.replace(tmp / kept.name, kept)
    except OSError:
        pass  # kept or not, the session is good
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sess


def session(path: Path, fuse: bool = False) -> onnxruntime.InferenceSession:
    """A CPU session on the graph ``path``, from its kept optimised copy when there is one;
    ``fuse`` runs the fusions of the ``fuse`` module before the first optimisation."""
    import onnxruntime as ort

    kept = optimised_path(path, fuse)
    if kept.is_file():
        try:
            return ort.InferenceSession(
                str(kept), _options(False), providers=["CPUExecutionProvider"]
            )
        except Exception:  # a damaged or half-deleted copy: made again below
            kept.unlink(missing_ok=True)
    return _save_optimised(path, kept, fuse)


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
