"""Ray ingest against single-process ``index``: the same JPEGs, the same encoder.

Generates seeded photo-like JPEGs (``ingest.py``'s generator), then indexes them into fresh
collections in alternation: ``Collection.index`` in this process, and ``Collection.index(...,
ray=ADDRESS)`` on a local Ray cluster of ``--cpus`` worker CPUs started once beforehand (its
start-up is reported apart, not timed in the runs). The figure is images/s of each and their
ratio, per repeat and on the medians. Whole-machine busy cores are reported beside each run:
Ray's workers are other processes, so that is the only honest measure of what was used.

    python benchmarks/ray_ingest.py --images 1000 --repeats 3 --json-out /tmp/ray_ingest.json
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import _busy_seconds, facts_markdown, machine_facts, md_table, write_json
from ingest import generate
from xmodal import Collection


def _timed_index(folder: Path, db: Path, model: str, ray: str | None) -> dict[str, Any]:
    shutil.rmtree(db, ignore_errors=True)
    col = Collection.open(db)
    busy0, t0 = _busy_seconds(), time.perf_counter()
    report = col.index([folder], models=[model], ray=ray)
    wall = time.perf_counter() - t0
    busy1 = _busy_seconds()
    col.close()
    cores = None if busy0 is None or busy1 is None else (busy1 - busy0) / wall
    return {"wall_s": wall, "added": report.added, "busy_cores": cores}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    work = Path(tempfile.mkdtemp(prefix="xmodal-ray-bench-"))
    try:
        folder = work / "photos"
        folder.mkdir()
        generate(folder, args.images, "jpeg", seed=0, threads=2)
        t0 = time.perf_counter()
        info = ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        start_s = time.perf_counter() - t0
        address = str(info.address_info["address"])
        # one untimed run of each loads the encoders here and in the workers
        warm = work / "warm"
        warm.mkdir()
        generate(warm, 8, "jpeg", seed=1, threads=2)
        _timed_index(warm, work / "w1", args.model, None)
        _timed_index(warm, work / "w2", args.model, address)
        runs: list[dict[str, Any]] = []
        for n in range(args.repeats):
            local = _timed_index(folder, work / "local", args.model, None)
            dist = _timed_index(folder, work / "ray", args.model, address)
            runs.append({"repeat": n + 1, "local": local, "ray": dist})
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"facts": machine_facts(), "images": args.images, "cpus": args.cpus,
            "model": args.model, "ray_start_s": start_s, "runs": runs}  # fmt: skip


def render(out: dict[str, Any]) -> str:
    n = out["images"]
    rows = []
    for r in out["runs"]:
        lo, ra = n / r["local"]["wall_s"], n / r["ray"]["wall_s"]
        rows.append([r["repeat"], f"{lo:.1f}", f"{r['local']['busy_cores']:.2f}", f"{ra:.1f}",
                     f"{r['ray']['busy_cores']:.2f}", f"{ra / lo:.2f}"])  # fmt: skip
    med_lo = statistics.median(n / r["local"]["wall_s"] for r in out["runs"])
    med_ra = statistics.median(n / r["ray"]["wall_s"] for r in out["runs"])
    table = md_table(
        ["repeat", "index images/s", "machine cores busy", "Ray images/s",
         "machine cores busy", "Ray / index"], rows)  # fmt: skip
    return (
        f"{facts_markdown(out['facts'])}\n\n{n} JPEGs 640x480, model {out['model']}, Ray local"
        f" cluster of {out['cpus']} worker CPUs (started in {out['ray_start_s']:.1f} s, not"
        f" timed)\n\n{table}\n\nmedians: index {med_lo:.1f} images/s, Ray {med_ra:.1f}"
        f" images/s, ratio {med_ra / med_lo:.2f}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--images", type=int, default=1000, help="JPEGs to generate and index")
    p.add_argument("--repeats", type=int, default=3, help="runs of each, alternating")
    p.add_argument("--cpus", type=int, default=2, help="worker CPUs of the local Ray cluster")
    p.add_argument("--model", default="classic", help="encoder")
    p.add_argument("--json-out", help="write the raw figures here")
    args = p.parse_args(argv)
    out = run(args)
    write_json(args.json_out, out)
    sys.stdout.write(render(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
