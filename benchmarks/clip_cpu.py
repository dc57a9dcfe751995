"""CLIP encoders on the CPU: eager PyTorch against ONNX Runtime (float and dynamic int8).

For each model (default ViT-B-32 and MobileCLIP-S2) a full-size network with random weights,
which costs exactly what trained weights cost, is saved as .safetensors and loaded through the
same names a user would type: ``clip:MODEL@FILE``, ``...#onnx`` and ``...#onnx-int8``. The
exports go to a fresh cache, so their cost is measured too. Reported per backend:

- first load (for ONNX: export, and for int8 the quantisation) and load from the cache, which
  is what every later process pays;
- images/s through ``encode_images`` at batch sizes 1, 8 and 16, preprocessing included;
- text queries/s, one query per call as a search issues them;
- the lowest cosine between the eager vectors and the fast path's on the same 16 images and
  16 texts (must stay >= 0.99), and for int8 between batch 16 and batch 1, since dynamic
  quantisation scales activations per batch.

Timings of the backends are interleaved repetition by repetition so that background load hits
all of them alike. The table reports the best repetition (other processes only ever add
time, so on a shared machine the fastest run is the closest to the machine's capacity); the
JSON also keeps the medians.

    .venv/bin/python benchmarks/clip_cpu.py
    .venv/bin/python benchmarks/clip_cpu.py --models ViT-B-32 --reps 5 --json-out clip.json
    .venv/bin/python benchmarks/clip_cpu.py --wait-quiet 120 --json-out clip.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from _common import facts_markdown, machine_facts, md_table, write_json

BACKENDS = ("torch", "onnx", "onnx-int8")
QUERIES = [
    "a photo of a dog",
    "red bicycle leaning on a wall",
    "two people walking on a beach at sunset",
    "a bowl of fruit",
    "an airplane in the sky",
    "snow covered mountains",
    "a cat sleeping on a sofa",
    "city street at night with neon lights",
    "a plate of pasta",
    "children playing football",
    "old wooden boat",
    "green forest path",
    "a crying face emoji",
    "diagram of a neural network",
    "a yellow taxi",
    "close-up of a flower",
]


def synthetic_images(n: int, seed: int = 0) -> list[Image.Image]:
    """Photo-sized images with some structure, so resizing does real work."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, h = int(rng.integers(480, 800)), int(rng.integers(360, 600))
        base = rng.integers(0, 255, size=(h // 8, w // 8, 3), dtype=np.uint8)
        im = Image.fromarray(base).resize((w, h), Image.Resampling.BILINEAR)
        d = ImageDraw.Draw(im)
        for _ in range(6):
            x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
            d.ellipse((x, y, x + 60, y + 60), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        out.append(im)
    return out


def save_random_weights(model_name: str, dest: Path) -> float:
    """Random weights for ``model_name`` in the form training leaves them (MobileCLIP's
    branches not yet folded), as a user's .safetensors file; returns seconds taken."""
    import logging

    import open_clip
    import torch
    from safetensors.torch import save_file

    start = time.perf_counter()
    torch.manual_seed(0)
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns that weights are random
    model = open_clip.create_model(model_name)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, dest)
    del model
    return time.perf_counter() - start


def cosines(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min((a * b).sum(axis=1)))


def rates(times: list[float], items: int) -> tuple[float, float]:
    """(best, median) items per second over the repetitions."""
    return items / min(times), items / statistics.median(times)


def bench_model(model_name: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from xmodal.encoders import clip as clip_mod

    weights = work / f"{model_name}.safetensors"
    print(f"[{model_name}] saving random weights", file=sys.stderr)
    save_s = save_random_weights(model_name, weights)
    base = f"clip:{model_name}@{weights}"

    probe = synthetic_images(1)

    def build(backend: str) -> Any:
        enc = clip_mod.load(base + ("" if backend == "torch" else f"#{backend}"))
        # towers load on first use: one call to each puts their sessions (and any
        # quantising) inside the load time, and the seconds spent into ``enc.info``
        enc.encode_images(probe)
        enc.encode_texts(["a probe"])
        return enc

    encoders: dict[str, Any] = {}
    loads: dict[str, dict[str, float]] = {}
    for backend in BACKENDS:
        print(f"[{model_name}] loading {backend}", file=sys.stderr)
        t0 = time.perf_counter()
        enc = build(backend)
        first = time.perf_counter() - t0
        # what the first load spent exporting or quantising; the cached load spends neither
        spent = {k: v for k, v in enc.info.items() if k.endswith("_seconds")}
        t0 = time.perf_counter()
        enc = build(backend)  # again, from the cache: what every later process pays
        cached = time.perf_counter() - t0
        encoders[backend] = enc
        loads[backend] = {"first_load_s": first, "cached_load_s": cached}
        loads[backend].update(spent)

    images = synthetic_images(16)
    vec_img = {b: e.encode_images(images) for b, e in encoders.items()}  # also warms up
    vec_txt = {b: e.encode_texts(QUERIES) for b, e in encoders.items()}

    # each batch shape costs kernel selection the first time it runs; keep that out of timings
    for batch in args.batches:
        for enc in encoders.values():
            enc.batch_size = batch
            enc.encode_images(images[:batch])
    img_times: dict[tuple[str, int], list[float]] = {}
    txt_times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for rep in range(args.reps):
        print(f"[{model_name}] timing, repetition {rep + 1}/{args.reps}", file=sys.stderr)
        for batch in args.batches:
            n = args.images_b1 if batch == 1 else max(batch, 16)
            for backend, enc in encoders.items():
                enc.batch_size = batch
                t0 = time.perf_counter()
                enc.encode_images(images[:n])
                img_times.setdefault((backend, batch), []).append(time.perf_counter() - t0)
        for backend, enc in encoders.items():
            for q in QUERIES[: args.queries]:
                t0 = time.perf_counter()
                enc.encode_texts([q], role="query")
                txt_times[backend].append(time.perf_counter() - t0)

    int8 = encoders["onnx-int8"]
    int8.batch_size = 1
    int8_single = int8.encode_images(images)
    rows: dict[str, Any] = {}
    for backend in BACKENDS:
        row: dict[str, Any] = {**loads[backend]}
        for batch in args.batches:
            n = args.images_b1 if batch == 1 else max(batch, 16)
            best, median = rates(img_times[(backend, batch)], n)
            row[f"images_per_s_b{batch}"] = best
            row[f"images_per_s_b{batch}_median"] = median
        best, median = rates(txt_times[backend], 1)
        row["text_queries_per_s"] = best
        row["text_queries_per_s_median"] = median
        if backend != "torch":
            row["min_cos_images"] = cosines(vec_img["torch"], vec_img[backend])
            row["min_cos_texts"] = cosines(vec_txt["torch"], vec_txt[backend])
        rows[backend] = row
    rows["onnx-int8"]["min_cos_b16_vs_b1"] = cosines(vec_img["onnx-int8"], int8_single)
    spec = encoders["torch"].spec
    return {
        "model": model_name,
        "dim": spec.dim,
        "image_size": spec.preprocessing["image_size"],
        "weights_file_mb": round(weights.stat().st_size / 1e6),
        "save_weights_s": save_s,
        "backends": rows,
    }


def markdown(results: list[dict[str, Any]], batches: list[int]) -> str:
    headers = ["model", "backend", "first load s", "cached load s"]
    headers += [f"img/s b{b}" for b in batches]
    headers += ["text q/s", "min cos img", "min cos text"]
    rows = []
    for r in results:
        for backend, v in r["backends"].items():
            first = f"{v['first_load_s']:.1f}"
            if "export_seconds" in v:
                first += f" (export {v['export_seconds']:.1f})"
            if "quantize_seconds" in v:
                first += f" (quantise {v['quantize_seconds']:.1f})"
            cells = [r["model"], backend, first, f"{v['cached_load_s']:.1f}"]
            cells += [f"{v[f'images_per_s_b{b}']:.1f}" for b in batches]
            cells.append(f"{v['text_queries_per_s']:.1f}")
            cells.append(f"{v['min_cos_images']:.4f}" if "min_cos_images" in v else "-")
            cells.append(f"{v['min_cos_texts']:.4f}" if "min_cos_texts" in v else "-")
            rows.append(cells)
    return md_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", default="ViT-B-32,MobileCLIP-S2")
    p.add_argument("--batches", default="1,8,16", help="image batch sizes")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions per measurement")
    p.add_argument("--images-b1", type=int, default=8, help="images timed at batch size 1")
    p.add_argument("--queries", type=int, default=8, help="single-query calls per repetition")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds before each model for other processes to go quiet",
    )
    p.add_argument("--json-out")
    args = p.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",")]

    facts = machine_facts()
    try:
        import onnxruntime
        import open_clip
        import torch

        facts.update(
            torch=torch.__version__,
            torch_threads=torch.get_num_threads(),
            onnxruntime=onnxruntime.__version__,
            open_clip=open_clip.__version__,
        )
    except ImportError as e:
        print(f"needs torch, open_clip and onnxruntime: {e}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="xmodal-clip-bench-"))
    os.environ["XMODAL_CACHE"] = str(work / "cache")
    measure: Callable[[], Any] | None = None
    wait: Callable[[float], float] | None = None
    try:  # newer _common only
        from _common import LoadMonitor, wait_for_quiet

        measure, wait = LoadMonitor, wait_for_quiet
    except ImportError:
        pass
    results = []
    start = time.perf_counter()
    try:
        for model_name in args.models.split(","):
            if args.wait_quiet > 0 and wait is not None:
                wait(args.wait_quiet)
            if measure is not None:
                with measure() as mon:
                    res = bench_model(model_name, work, args)
                res["background_cores_busy"] = mon.other_cores
            else:
                res = bench_model(model_name, work, args)
            results.append(res)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - start

    print(facts_markdown(facts))
    print()
    print(markdown(results, args.batches))
    print()
    for r in results:
        int8 = r["backends"]["onnx-int8"]
        busy = r.get("background_cores_busy")
        print(
            f"- {r['model']}: dim {r['dim']}, input {r['image_size']}, weights "
            f"{r['weights_file_mb']} MB; int8 batch 16 vs batch 1 min cos "
            f"{int8['min_cos_b16_vs_b1']:.4f}"
            + (f"; other processes kept {busy:.2f} cores busy" if busy is not None else "")
        )
    print(f"- total run time {total:.0f} s")
    write_json(args.json_out, {"machine": facts, "results": results, "total_s": total})
    bad = [
        (r["model"], b)
        for r in results
        for b, v in r["backends"].items()
        if min(v.get("min_cos_images", 1.0), v.get("min_cos_texts", 1.0)) < 0.99
    ]
    if bad:
        print(f"cosine below 0.99 for {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
