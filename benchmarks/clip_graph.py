"""One image tower's CPU cost per image under different graphs and ONNX Runtime settings, in
one process, interleaved round by round.

Each variant is an ONNX Runtime session (a graph file and its settings); every round runs
each variant once on the same random batch, in a rotating order, and records the process CPU
time (all threads) and the wall time per image. The cosine of each variant's vectors to the
first variant's is reported too, so a faster graph that changes the vectors shows it.

    python benchmarks/clip_graph.py --graph ours=EXPORT/image.onnx --graph rclip=visual.onnx \\
        --threads 1,2 --spin 0,1 --batch 16 --rounds 6

``--graph`` may be given more than once (NAME=PATH); every graph runs with every
``--threads`` x ``--spin`` pair. ``--fuse`` adds, for each graph, the copy that xmodal's
fusions (``xmodal.encoders.clip.fuse``) make of it.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np


def make_session(path: Path, threads: int, spin: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", str(spin))
    opts.add_session_config_entry("session.inter_op.allow_spinning", str(spin))
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _whole(sess: Any) -> Any:
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def _chunked(sess: Any, pool: ThreadPoolExecutor, n: int) -> Any:
    name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        parts = np.array_split(x, n)
        futures = [pool.submit(sess.run, None, {name: part}) for part in parts]
        return np.concatenate([f.result()[0] for f in futures])

    return run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--graph", action="append", required=True, help="NAME=PATH of an image graph")
    p.add_argument("--threads", default="2", help="intra-op thread counts, comma separated")
    p.add_argument("--spin", default="0", help="allow_spinning values (0, 1), comma separated")
    p.add_argument("--batch", default="16", help="batch sizes, comma separated")
    p.add_argument("--side", type=int, default=256, help="input side in pixels")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--fuse", action="store_true", help="also each graph after xmodal's fusions")
    p.add_argument(
        "--split",
        type=int,
        default=0,
        help="also run each graph on one intra-op thread, the batch cut in this many chunks "
        "run at once from as many threads",
    )
    args = p.parse_args()

    graphs = [(g.split("=", 1)[0], Path(g.split("=", 1)[1])) for g in args.graph]
    tmp = Path(tempfile.mkdtemp(prefix="clip-graph-"))
    if args.fuse:
        from xmodal.encoders.clip.fuse import fused_copy

        for name, path in list(graphs):
            (tmp / name).mkdir()
            fused = fused_copy(path, tmp / name)
            if fused is not None:
                graphs.append((name + "+fused", fused))
    threads = [int(t) for t in args.threads.split(",")]
    spins = [int(s) for s in args.spin.split(",")]
    batches = [int(b) for b in args.batch.split(",")]
    variants = {
        f"{g} t{t} spin{s}": make_session(path, t, s)
        for (g, path), t, s in itertools.product(graphs, threads, spins)
    }
    runners: dict[str, Any] = {name: _whole(sess) for name, sess in variants.items()}
    if args.split > 1:
        pool = ThreadPoolExecutor(args.split)
        for g, path in graphs:
            runners[f"{g} t1 x{args.split} chunks"] = _chunked(
                make_session(path, 1, 0), pool, args.split
            )
    rng = np.random.default_rng(0)
    cpu: dict[tuple[str, int], list[float]] = {}
    wall: dict[tuple[str, int], list[float]] = {}
    ref: dict[int, np.ndarray] = {}
    cos: dict[tuple[str, int], float] = {}
    names = list(runners)
    for b in batches:
        x = rng.standard_normal((b, 3, args.side, args.side), dtype=np.float32)
        for name in names:  # one untimed run each: first-run allocations
            out = runners[name](x)
            out = out / np.linalg.norm(out, axis=1, keepdims=True)
            ref.setdefault(b, out)
            cos[(name, b)] = float(np.min(np.sum(out * ref[b], axis=1)))
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                c0, w0 = time.process_time(), time.perf_counter()
                runners[name](x)
                cpu.setdefault((name, b), []).append((time.process_time() - c0) * 1e3 / b)
                wall.setdefault((name, b), []).append((time.perf_counter() - w0) * 1e3 / b)
    print(
        "| variant | batch | CPU ms / image, median (min-max) | wall ms / image, median | "
        "min cosine to first |"
    )
    print("| --- | --- | --- | --- | --- |")
    for b in batches:
        for name in names:
            c, w = cpu[(name, b)], wall[(name, b)]
            print(
                f"| {name} | {b} | {statistics.median(c):.1f} ({min(c):.1f}-{max(c):.1f}) | "
                f"{statistics.median(w):.1f} | {cos[(name, b)]:.7f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
