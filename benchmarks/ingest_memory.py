"""Peak memory of one ``xmodal index`` run on large photos.

Writes N seeded, photo-like 2000x1500 JPEGs (a smooth gradient, a few shapes, sensor-like
noise; every file its own bytes) into a temporary folder, then runs the real command line in
a child process under ``/usr/bin/time -v`` and reports its peak resident set size.

    .venv/bin/python benchmarks/ingest_memory.py                       # 80 files, classic + minilm
    .venv/bin/python benchmarks/ingest_memory.py --n 80 --model classic --model ocr
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def write_photos(root: Path, n: int, width: int, height: int, seed: int) -> int:
    """``n`` JPEGs under ``root``; returns their total size in bytes."""
    rng = np.random.default_rng(seed)
    total = 0
    root.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
        row = (a * (1 - t) + b * t).astype(np.uint8)
        im = Image.fromarray(np.repeat(row, height, axis=0), "RGB")
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(3, 8))):
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            r = int(rng.integers(50, 400))
            d.ellipse(
                (x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(0, 256, 3))
            )
        arr = np.asarray(im, dtype=np.int16) + rng.integers(-12, 13, (height, width, 3))
        path = root / f"photo_{k:04d}.jpg"
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(path, quality=90)
        total += path.stat().st_size
    return total


def peak_rss_kib(cmd: list[str]) -> tuple[int, float, str]:
    """(peak RSS in KiB, wall seconds, last line of stdout) of ``cmd`` under ``time -v``."""
    started = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    wall = time.monotonic() - started
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    assert match, proc.stderr
    return int(match.group(1)), wall, proc.stdout.strip().splitlines()[-1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=80)
    p.add_argument("--width", type=int, default=2000)
    p.add_argument("--height", type=int, default=1500)
    p.add_argument("--model", action="append", help="default: classic and minilm")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    models = args.model or ["classic", "minilm"]
    with tempfile.TemporaryDirectory(prefix="xmodal-mem-") as tmp:
        folder = Path(tmp) / "photos"
        size = write_photos(folder, args.n, args.width, args.height, args.seed)
        cmd = [sys.executable, "-m", "xmodal.cli", "index", str(folder), "--db", f"{tmp}/db"]
        for m in models:
            cmd += ["--model", m]
        rss, wall, out = peak_rss_kib([*cmd, "-q"])
    print(
        f"{args.n} JPEGs {args.width}x{args.height} ({size / 1e6:.1f} MB), "
        f"models {' + '.join(models)}, nproc {os.cpu_count()}: "
        f"peak RSS {rss / 1024:.0f} MiB, wall {wall:.1f} s; {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
