"""Helpers shared by the benchmark scripts: machine facts, timing statistics, Markdown tables."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _nproc() -> int:
    try:
        out = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
        return int(out.strip())
    except (OSError, ValueError, subprocess.CalledProcessError):
        return len(os.sched_getaffinity(0))


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "not installed"
    return str(getattr(mod, "__version__", "unknown"))


def _git(*args: str) -> str:
    # from the repository root, so that paths such as ``src`` name the same folder wherever
    # the benchmark is started from
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=here
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.strip()


def machine_facts() -> dict[str, Any]:
    """What a reader needs to compare these numbers with theirs."""
    changed = [line for line in _git("status", "--porcelain", "--", "src").splitlines() if line]
    return {
        "git_head": _git("rev-parse", "--short", "HEAD"),
        "src_files_changed_since_head": len(changed),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": _nproc(),
        "os_cpu_count": os.cpu_count(),
        "mem_total_gib": _mem_total_gib(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": _version("numpy"),
        "faiss": _version("faiss"),
        "pillow": _version("PIL"),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", ""),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", ""),
    }


def facts_markdown(facts: dict[str, Any]) -> str:
    keys = ["date", "nproc", "mem_total_gib", "cpu_model", "python", "numpy", "faiss", "pillow"]
    extra = [k for k in facts if k not in keys and k != "os_cpu_count" and k != "platform"]
    parts = [f"{k}={facts[k]}" for k in keys + extra if k in facts]
    return "Machine: " + ", ".join(parts)


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (``/proc/stat``), or None."""
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class LoadMonitor:
    """How many cores other processes kept busy while a block ran: the noise floor of a
    measurement on a shared machine."""

    def __init__(self) -> None:
        self.other_cores: float | None = None

    def __enter__(self) -> LoadMonitor:
        self._busy = _busy_seconds()
        self._own = time.process_time()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _busy_seconds()
        wall = time.perf_counter() - self._wall
        if busy is None or self._busy is None or wall <= 0:
            return
        own = time.process_time() - self._own
        self.other_cores = max(0.0, (busy - self._busy - own) / wall)


def wait_for_quiet(max_wait_s: float, threshold: float = 0.25, window_s: float = 5.0) -> float:
    """Wait (at most ``max_wait_s``) until other processes use under ``threshold`` cores over a
    ``window_s`` window; returns the last measured background load in cores."""
    deadline = time.monotonic() + max_wait_s
    while True:
        with LoadMonitor() as m:
            time.sleep(window_s)
        load = m.other_cores or 0.0
        if load < threshold or time.monotonic() >= deadline:
            return load
        print(f"  waiting for a quiet machine: {load:.2f} cores busy elsewhere", file=sys.stderr)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v)

    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, default=str)
            f.write("\n")
