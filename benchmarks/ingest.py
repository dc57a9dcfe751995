"""Ingest throughput: the whole index pipeline against the encoder alone.

Generates N photo-like images (smooth gradients, shapes, sensor-like noise; seeded) into a
temporary folder, then measures, each ``--repeats`` times:

- pipeline: ``Collection.open(fresh_db).index([folder], models=[MODEL])`` end to end
  (walk + read + hash + decode + encode + commit); the encoder is loaded before timing;
- encoder alone: ``encoder.encode_images`` on the same images, already decoded in memory with
  ``decode_image`` and the pipeline's ``DecodeLimits``, in batches of the pipeline's batch
  size (a text-only encoder gets ``encode_texts`` on the words the pipeline attaches to each
  image instead);
- decode alone (bytes already in memory), on one thread and on the pipeline's thread count;
- prepare alone (read + hash + decode from disk, what the pipeline's worker threads do), on
  the pipeline's thread count;
- the main thread's serial work without decoding: ``encode_batch`` + ``Store.put_items``,
  and ``put_items`` (commit) alone.

    .venv/bin/python benchmarks/ingest.py                 # 2000 640x480 JPEGs, classic
    .venv/bin/python benchmarks/ingest.py --variant png-small --n 5000
    .venv/bin/python benchmarks/ingest.py --model minilm --json-out ingest.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from _common import (
    LoadMonitor,
    facts_markdown,
    machine_facts,
    md_table,
    summary,
    wait_for_quiet,
    write_json,
)
from xmodal import Collection
from xmodal.encoders import get_encoder
from xmodal.encoders.base import Encoder
from xmodal.ingest.encode import encode_batch, writer_for
from xmodal.ingest.pipeline import IndexOptions, bounded_map
from xmodal.ingest.prepare import Prepared, prepare
from xmodal.media.image import decode_image, filename_words
from xmodal.media.walk import walk
from xmodal.records import Modality
from xmodal.store.sqlite import NewItem, Store

_COLOURS = {
    "red": (200, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 70, 200),
    "yellow": (230, 210, 50),
    "orange": (240, 140, 30),
    "purple": (130, 50, 160),
    "white": (240, 240, 240),
    "black": (20, 20, 20),
}
_SHAPES = ("circle", "square", "triangle", "stripe")
_SCENES = ("sunset", "beach", "forest", "street", "garden", "harbour", "desert", "snow")

VARIANTS = {
    # name: (width, height, format, extension)
    "jpeg": (640, 480, "JPEG", ".jpg"),
    "png-small": (160, 120, "PNG", ".png"),
}


def _photo(rng: np.random.Generator, w: int, h: int) -> tuple[Image.Image, str]:
    """A photo-like RGB image and a file stem describing it (so text encoders get words)."""
    corners = rng.uniform(0, 255, size=(2, 2, 3)).astype(np.float32)
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    base = (
        corners[0, 0] * (1 - x) * (1 - y)
        + corners[0, 1] * x * (1 - y)
        + corners[1, 0] * (1 - x) * y
        + corners[1, 1] * x * y
    )
    im = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    names = list(_COLOURS)
    main_colour, main_shape = "", ""
    for n in range(int(rng.integers(3, 9))):
        colour = names[int(rng.integers(len(names)))]
        shape = _SHAPES[int(rng.integers(len(_SHAPES)))]
        if n == 0:
            main_colour, main_shape = colour, shape
        jitter = rng.integers(-30, 31, size=3)
        fill = tuple(int(c) for c in np.clip(np.array(_COLOURS[colour]) + jitter, 0, 255))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(min(w, h) // 12, min(w, h) // 3))
        if shape == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        elif shape == "square":
            draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
        elif shape == "triangle":
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
        else:
            draw.rectangle((0, cy - r // 4, w, cy + r // 4), fill=fill)
    im = im.filter(ImageFilter.GaussianBlur(radius=1.2))
    noise = rng.standard_normal((h, w, 3), dtype=np.float32) * 6.0
    arr = np.clip(np.asarray(im, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    scene = _SCENES[int(rng.integers(len(_SCENES)))]
    return Image.fromarray(arr, "RGB"), f"{scene}_{main_colour}_{main_shape}"


def generate(folder: Path, n: int, variant: str, seed: int, threads: int) -> int:
    """Write ``n`` images into ``folder``; returns the total bytes written."""
    w, h, fmt, ext = VARIANTS[variant]

    def one(i: int) -> int:
        rng = np.random.default_rng([seed, i])
        im, stem = _photo(rng, w, h)
        path = folder / f"{stem}_{i:06d}{ext}"
        if fmt == "JPEG":
            im.save(path, "JPEG", quality=90)
        else:
            im.save(path, "PNG")
        return path.stat().st_size

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(one, range(n)))


def _batches(seq: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]


def _repeat(fn: Callable[[], Any], repeats: int) -> tuple[list[float], list[float], Any]:
    """Wall-clock and process CPU seconds (all threads, user + system) of each run."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, out


def _rate(n: int, walls: Sequence[float], cpus: Sequence[float]) -> dict[str, Any]:
    s = summary([n / t for t in walls])
    return {
        "median_per_s": s["median"],
        "min_per_s": s["min"],
        "max_per_s": s["max"],
        "cpu_ms_per_image": 1000.0 * statistics.median(cpus) / n,
        "cores_busy": statistics.median(c / w for c, w in zip(cpus, walls, strict=True)),
        "seconds": list(walls),
        "cpu_seconds": list(cpus),
    }


def _attached_text(data: bytes, stem: str, limits: Any) -> str:
    """The words the pipeline attaches to an image without sidecars (EXIF/XMP + file name)."""
    parts = list(decode_image(data, limits).embedded_text)
    words = filename_words(stem)
    if words:
        parts.append(words)
    return ". ".join(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _encode_alone(enc: Encoder, images: list[Image.Image], texts: list[str], bs: int) -> int:
    if enc.accepts(Modality.IMAGE):
        for chunk in _batches(images, bs):
            enc.encode_images(list(chunk))
    else:
        for chunk in _batches(texts, bs):
            enc.encode_texts(list(chunk), role="passage")
    return len(images)


def run(args: argparse.Namespace) -> dict[str, Any]:
    options = IndexOptions(batch_size=args.batch_size, workers=args.workers)
    limits = options.limits
    workers = options.workers or max(1, min(8, os.cpu_count() or 1))
    facts = machine_facts()
    tmp = Path(tempfile.mkdtemp(prefix="xmodal-bench-ingest-", dir=args.tmp))
    try:
        folder = tmp / "images"
        folder.mkdir()
        t0 = time.perf_counter()
        total_bytes = generate(folder, args.n, args.variant, args.seed, workers)
        gen_s = time.perf_counter() - t0
        print(
            f"generated {args.n} {args.variant} images ({total_bytes / 1e6:.1f} MB) "
            f"in {gen_s:.1f}s under {folder}",
            file=sys.stderr,
        )

        t0 = time.perf_counter()
        enc = get_encoder(args.model)
        load_s = time.perf_counter() - t0
        # the batch size run_index uses: the option, or else what the encoder asks for
        batch_size = options.batch_size or enc.batch_size

        refs = walk([str(folder)]).files
        assert len(refs) == args.n, (len(refs), args.n)
        datas = [Path(r.path).read_bytes() for r in refs]
        results: dict[str, Any] = {}
        n = args.n

        def step(name: str, fn: Callable[[], Any]) -> Any:
            if args.wait_quiet:
                wait_for_quiet(args.wait_quiet)
            with LoadMonitor() as mon:
                walls, cpus, out = _repeat(fn, args.repeats)
            results[name] = _rate(n, walls, cpus)
            results[name]["other_processes_cores"] = mon.other_cores
            print(f"  {name}: {results[name]['median_per_s']:.1f}/s", file=sys.stderr)
            return out

        # warm-up: first call of every code path (imports, lazy tables, BLAS init)
        warm = [decode_image(d, limits).image for d in datas[:8]]
        if enc.accepts(Modality.IMAGE):
            enc.encode_images(warm)
        else:
            enc.encode_texts(["warm up"], role="passage")

        step("walk", lambda: walk([str(folder)]))
        step("decode, 1 thread", lambda: [decode_image(d, limits) for d in datas])
        with ThreadPoolExecutor(max_workers=workers) as pool:
            step(
                f"decode, {workers} threads",
                lambda: list(pool.map(lambda d: decode_image(d, limits), datas)),
            )

            def prep_all() -> list[Any]:
                window = max(2 * batch_size, 4 * workers)
                job = lambda r: prepare(r, limits, None, None, {})  # noqa: E731
                return list(bounded_map(pool, job, refs, window))

            prepared = step(f"prepare (read+hash+decode), {workers} threads", prep_all)
        assert all(isinstance(p, Prepared) for p in prepared)

        images = [decode_image(d, limits).image for d in datas]
        texts = [
            _attached_text(d, os.path.splitext(os.path.basename(r.path))[0], limits)
            for d, r in zip(datas, refs, strict=True)
        ]
        step(
            "encoder alone (decoded in memory)",
            lambda: _encode_alone(enc, images, texts, batch_size),
        )

        def consumer(commit_only: list[list[NewItem]] | None) -> int:
            db = Path(tempfile.mkdtemp(prefix="db-", dir=tmp))
            store = Store(db)
            try:
                store.ensure_space(enc.spec)
                if commit_only is not None:
                    for items in commit_only:
                        store.put_items(items)
                else:
                    for chunk in _batches(prepared, batch_size):
                        store.put_items(encode_batch(list(chunk), [(enc, writer_for(enc))]))
            finally:
                store.close()
                shutil.rmtree(db, ignore_errors=True)
            return n

        step("main thread work: encode_batch + put_items", lambda: consumer(None))
        spaces = [(enc, writer_for(enc))]
        new_items = [encode_batch(list(c), spaces) for c in _batches(prepared, batch_size)]
        step("commit alone: put_items", lambda: consumer(new_items))
        new_items.clear()  # free the decoded images before the pipeline runs
        prepared.clear()

        def pipeline() -> int:
            db = Path(tempfile.mkdtemp(prefix="col-", dir=tmp))
            try:
                with Collection.open(db) as col:
                    report = col.index([str(folder)], models=[args.model], options=options)
                assert report.added == n and not report.skipped, report.summary()
            finally:
                shutil.rmtree(db, ignore_errors=True)
            return n

        step("pipeline: Collection.index end to end", pipeline)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    pipe = results["pipeline: Collection.index end to end"]
    alone = results["encoder alone (decoded in memory)"]
    ratio_median = pipe["median_per_s"] / alone["median_per_s"]
    ratio_best = pipe["max_per_s"] / alone["max_per_s"]
    return {
        "benchmark": "ingest",
        "machine": facts,
        "config": {
            "n": args.n,
            "variant": args.variant,
            "size": list(VARIANTS[args.variant][:2]),
            "format": VARIANTS[args.variant][2],
            "total_mb": round(total_bytes / 1e6, 1),
            "model": args.model,
            "batch_size": batch_size,
            "threads": workers,
            "repeats": args.repeats,
            "seed": args.seed,
            "max_side": limits.max_side,
            "generate_s": round(gen_s, 2),
            "encoder_load_s": round(load_s, 2),
        },
        "results": results,
        "ratio_pipeline_over_encoder": {"median": ratio_median, "best": ratio_best},
        "goal": ">= 0.9",
    }


def _fmt_load(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def render(out: dict[str, Any]) -> str:
    cfg = out["config"]
    rows = []
    for name, r in out["results"].items():
        rows.append(
            [
                name,
                f"{r['median_per_s']:.1f}",
                f"{r['min_per_s']:.1f} – {r['max_per_s']:.1f}",
                f"{1000.0 / r['median_per_s']:.2f}",
                f"{r['cpu_ms_per_image']:.2f}",
                f"{r['cores_busy']:.2f}",
                _fmt_load(r.get("other_processes_cores")),
            ]
        )
    ratio = out["ratio_pipeline_over_encoder"]
    res = out["results"]
    prep = next(v for k, v in res.items() if k.startswith("prepare"))
    main_work = res["main thread work: encode_batch + put_items"]
    alone = res["encoder alone (decoded in memory)"]["median_per_s"]
    cpu_per_image = prep["cpu_ms_per_image"] + main_work["cpu_ms_per_image"]
    nproc = out["machine"]["nproc"]
    ceiling = min(alone, nproc * 1000.0 / cpu_per_image)
    return "\n".join(
        [
            f"## Ingest: {cfg['n']} {cfg['variant']} images "
            f"({cfg['size'][0]}x{cfg['size'][1]} {cfg['format']}, {cfg['total_mb']} MB), "
            f"model {cfg['model']}, batch {cfg['batch_size']}, {cfg['threads']} decode threads, "
            f"{cfg['repeats']} repeats",
            "",
            facts_markdown(out["machine"]),
            "",
            md_table(
                [
                    "stage",
                    "images/s (median)",
                    "images/s (min – max)",
                    "wall ms/image",
                    "CPU ms/image",
                    "cores busy",
                    "other processes (cores)",
                ],
                rows,
            ),
            "",
            f"pipeline / encoder alone: {ratio['median']:.2f} (medians), "
            f"{ratio['best']:.2f} (best of each); goal {out['goal']}",
            f"CPU-time bound for the pipeline on {nproc} idle cores: min(encoder alone, "
            f"{nproc} x 1000 / ({prep['cpu_ms_per_image']:.2f} prepare + "
            f"{main_work['cpu_ms_per_image']:.2f} main-thread CPU ms/image)) = "
            f"{ceiling:.0f} images/s, i.e. a ratio of at most {ceiling / alone:.2f}",
            f"(encoder load, not timed above: {cfg['encoder_load_s']} s)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="number of images (default 2000)")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="jpeg")
    p.add_argument("--model", default="classic", help="encoder name (default classic)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--batch-size", type=int, default=0, help="0: the pipeline's choice (the encoder's)"
    )
    p.add_argument("--workers", type=int, default=0, help="decode threads (0: pipeline default)")
    p.add_argument("--tmp", default=None, help="parent folder for the temporary data")
    p.add_argument("--keep", action="store_true", help="keep the generated images")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="before each stage, wait up to this many seconds for other processes to go idle",
    )
    p.add_argument("--json-out", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    out = run(args)
    print(render(out))
    write_json(args.json_out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
