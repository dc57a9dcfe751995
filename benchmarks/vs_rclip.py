"""xmodal against rclip on the same photos and the same random weights, whole processes
interleaved A/B, medians.

rclip (from PyPI, in its own virtual environment under ``--work``) runs ONNX exports of
ViT-B-32-256 made by its own ``scripts/convert_model.py`` (taken from rclip's source tree,
``--rclip-script``; it is not in the wheel) from the random weights that xmodal loads as
``clip:ViT-B-32-256@FILE#onnx``. The script's ``export_visual_onnx`` / ``export_textual_onnx``
/ ``verify_onnx`` are called as they are; only its weight loading (a download of published
weights) is replaced by the random model. Both tools then index the same folder of distinct
JPEGs, each run into a fresh collection, and answer the same text queries cold (a new process)
and warm (many queries in one process).

    python benchmarks/vs_rclip.py --rclip-script /path/to/rclip/scripts/convert_model.py \\
        --images 300 --runs 3

Weights are random, so hits mean nothing; both tools get the same top hits, which the report
checks. Peak RSS is each process's own (``wait4``).

Each round also times xmodal's float image tower alone on pixels already prepared (how fast
indexing would go if decoding and the rest cost nothing: the ceiling for the float graph),
and with ``--int8`` indexes the folder with ``#onnx-int8`` too, reporting its vectors' cosine
to the float ones.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from _common import facts_markdown, machine_facts, md_table

MODEL = "ViT-B-32-256"
RCLIP_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"
QUERIES = ["a red car", "a dog on a beach", "mountains at sunset", "a bowl of soup", "a city"]


def make_photos(folder: Path, n: int) -> None:
    """``n`` distinct 1024x768 JPEGs: smooth colour fields with noise, like photos compress."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:768, 0:1024].astype(np.float32)
    for i in range(n):
        path = folder / f"photo-{i:04d}.jpg"
        if path.exists():
            continue
        a, b, c = rng.uniform(0, 6.28, 3)
        base = np.stack(
            [
                128 + 100 * np.sin(xx / (90 + 7 * k) + a * k + b) * np.cos(yy / 120 + c)
                for k in (1, 2, 3)
            ],
            axis=-1,
        )
        arr = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(path, quality=90)


def make_weights(dest: Path) -> Any:
    import open_clip
    import safetensors.torch
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model(MODEL)
    model.eval()
    if not dest.exists():
        state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        safetensors.torch.save_file(state, dest)
    return model


def rclip_export(script: Path, model: Any, datadir: Path) -> None:
    """rclip's own export and check of the towers, and the files rclip looks for."""
    import open_clip

    out = datadir / RCLIP_SUBDIR
    if (out / "visual.onnx").exists() and (out / "textual.onnx").exists():
        return
    spec = importlib.util.spec_from_file_location("rclip_convert_model", script)
    assert spec is not None and spec.loader is not None
    conv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv)
    out.mkdir(parents=True, exist_ok=True)
    conv.export_visual_onnx(model, out / "visual.onnx")
    conv.export_textual_onnx(model, out / "textual.onnx")
    conv.verify_onnx(model, out / "visual.onnx", out / "textual.onnx")
    vocab = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    (datadir / "tokenizer").mkdir(exist_ok=True)
    shutil.copy2(vocab, datadir / "tokenizer" / vocab.name)
    # rclip insists on its model licence files beside the models; placeholders do here
    for name in ("LICENSE", "OPENAI-CLIP-MIT.txt", "README.md", "THIRD_PARTY_NOTICES.md"):
        (datadir / name).write_text("benchmark placeholder\n")


#: runs one command and prints its peak RSS (KiB) last on stderr: a fresh parent per command
#: makes RUSAGE_CHILDREN that one process's own
_PEAK = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(r.returncode)"
)


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in GiB, and stdout of one whole process."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, *cmd],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {proc.stderr[-2000:]}")
    peak = next(
        int(line.split()[1])
        for line in reversed(proc.stderr.splitlines())
        if line.startswith("PEAK_KIB")
    )
    return wall, peak / 2**20, proc.stdout


class Tools:
    """How to run each tool on the shared photos and weights."""

    def __init__(self, work: Path, weights: Path, rclip_venv: Path, photos: Path) -> None:
        self.work, self.photos = work, photos
        self.name = f"clip:{MODEL}@{weights}#onnx"
        self.name_int8 = f"clip:{MODEL}@{weights}#onnx-int8"
        self.rclip_bin = rclip_venv / "bin"
        self.models = work / "rclip-models"
        src = str(Path(__file__).resolve().parents[1] / "src")
        self.xenv = {**os.environ, "PYTHONPATH": src, "XMODAL_CACHE": str(work / "xmodal-cache")}

    def fresh_rclip_datadir(self, tag: str) -> Path:
        d = self.work / "runs" / f"rclip-{tag}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for entry in self.models.iterdir():
            (d / entry.name).symlink_to(entry)
        return d

    def rclip_env(self, datadir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {**env, "RCLIP_DATADIR": str(datadir), "HF_HUB_OFFLINE": "1"}

    def index(self, tool: str, tag: str) -> tuple[float, float, Path]:
        if tool == "rclip":
            d = self.fresh_rclip_datadir(tag)
            cmd = [str(self.rclip_bin / "rclip"), "-f", "-t", "5", QUERIES[0]]
            wall, peak, _ = run(cmd, self.rclip_env(d), cwd=self.photos)
            return wall, peak, d
        db = self.work / "runs" / f"{tool}-{tag}"
        shutil.rmtree(db, ignore_errors=True)
        cmd = [sys.executable, "-m", "xmodal.cli", "index", str(self.photos), "--db", str(db)]
        name = self.name_int8 if tool == "xmodal-int8" else self.name
        wall, peak, _ = run([*cmd, "--model", name], self.xenv)
        return wall, peak, db

    def tower(self, n: int) -> float:
        """Seconds xmodal's image tower alone takes for ``n`` images already prepared, in
        batches of 16, in a process of its own: what indexing would take if decoding, the
        store and the start cost nothing."""
        code = (
            "import sys, time; from PIL import Image; "
            "from xmodal.encoders.registry import get_encoder; "
            "e = get_encoder(sys.argv[1]); n = int(sys.argv[3]); "
            "px = e.prepare_image(Image.open(sys.argv[2]).convert('RGB')); "
            "e.encode_prepared([px] * 16); "
            "t = time.perf_counter(); "
            "[e.encode_prepared([px] * 16) for _ in range(n // 16)]; "
            "print((time.perf_counter() - t) * n / (n // 16 * 16))"
        )
        photo = str(next(iter(sorted(self.photos.glob("*.jpg")))))
        _, _, out = run([sys.executable, "-c", code, self.name, photo, str(n)], self.xenv)
        return float(out.strip().splitlines()[-1])

    def int8_cosines(self, n: int = 32) -> list[float]:
        """Cosine of each of ``n`` photos' int8 vector to its float vector."""
        code = (
            "import sys; import numpy as np; from PIL import Image; "
            "from xmodal.encoders.registry import get_encoder; "
            "ims = [Image.open(p).convert('RGB') for p in sys.argv[3:]]; "
            "a, b = (get_encoder(m).encode_images(ims) for m in sys.argv[1:3]); "
            "a /= np.linalg.norm(a, axis=1, keepdims=True); "
            "b /= np.linalg.norm(b, axis=1, keepdims=True); "
            "print(' '.join(f'{v:.6f}' for v in (a * b).sum(1)))"
        )
        photos = [str(q) for q in sorted(self.photos.glob("*.jpg"))[:n]]
        cmd = [sys.executable, "-c", code, self.name, self.name_int8, *photos]
        _, _, out = run(cmd, self.xenv)
        return [float(v) for v in out.strip().splitlines()[-1].split()]

    def search(self, tool: str, where: Path, query: str) -> tuple[float, list[str]]:
        if tool == "rclip":
            cmd = [str(self.rclip_bin / "rclip"), "-n", "-f", "-t", "5", query]
            wall, _, out = run(cmd, self.rclip_env(where), cwd=self.photos)
            return wall, [Path(line.strip()).name for line in out.splitlines() if line.strip()]
        cmd = [sys.executable, "-m", "xmodal.cli", "search", query, "--db", str(where)]
        wall, _, out = run([*cmd, "-k", "5", "--json"], self.xenv)
        return wall, [Path(h["path"]).name for h in json.loads(out)["results"]]

    def warm(self, tool: str, where: Path, n: int) -> float:
        """Seconds per query over ``n`` queries in one process, after one to load."""
        queries = [f"{QUERIES[i % len(QUERIES)]} {i}" for i in range(n)]
        if tool == "rclip":
            code = (
                "import sys, time; from rclip.main import init_rclip; "
                "r, m, d = init_rclip(sys.argv[1], 8, no_indexing=True); "
                "r.search('x', sys.argv[1]); "
                "t = time.perf_counter(); [r.search(q, sys.argv[1], 5) for q in sys.argv[2:]]; "
                "print((time.perf_counter() - t) / len(sys.argv[2:]))"
            )
            cmd = [str(self.rclip_bin / "python"), "-c", code, str(self.photos), *queries]
            _, _, out = run(cmd, self.rclip_env(where))
        else:
            code = (
                "import sys, time; from xmodal.collection import Collection; "
                "c = Collection.open(sys.argv[1]); c.search('x', k=5); "
                "t = time.perf_counter(); [c.search(q, k=5) for q in sys.argv[2:]]; "
                "print((time.perf_counter() - t) / len(sys.argv[2:]))"
            )
            _, _, out = run([sys.executable, "-c", code, str(where), *queries], self.xenv)
        return float(out.strip().splitlines()[-1])


def setup(args: argparse.Namespace) -> Tools:
    work = Path(args.work).absolute()
    venv = work / "rclip-venv"
    if not (venv / "bin" / "rclip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q", f"rclip=={args.rclip_version}"]
        subprocess.run(pip, check=True)
    photos = work / f"photos-{args.images}"
    make_photos(photos, args.images)
    weights = work / f"{MODEL}-random.safetensors"
    model = make_weights(weights)
    rclip_export(Path(args.rclip_script), model, work / "rclip-models")
    del model
    tools = Tools(work, weights, venv, photos)
    # the first xmodal load exports its towers once (int8: quantises); no export is timed
    tools.index("xmodal", "warmup")
    if args.int8:
        tools.index("xmodal-int8", "warmup")
    return tools


def measure(tools: Tools, runs: int, warm_n: int, int8: bool) -> dict[str, Any]:
    r: dict[str, dict[str, list[float]]] = {t: {} for t in ("xmodal", "rclip", "xmodal-int8")}
    n_images = len(list(tools.photos.glob("*.jpg")))
    homes: dict[str, Path] = {}
    hits: dict[str, list[str]] = {}
    for n in range(runs):
        # A/B, then B/A: neither tool always runs on the cooler machine
        order = ("xmodal", "rclip") if n % 2 == 0 else ("rclip", "xmodal")
        # int8 third in every round: it is compared with rclip, not raced against it
        for tool in (*order, "xmodal-int8") if int8 else order:
            wall, peak, home = tools.index(tool, str(n))
            r[tool].setdefault("index_s", []).append(wall)
            r[tool].setdefault("peak_gib", []).append(peak)
            homes[tool] = home
            print(f"run {n} {tool}: index {wall:.1f} s, peak {peak:.2f} GiB", flush=True)
        r["xmodal"].setdefault("tower_s", []).append(tools.tower(n_images))
        for tool in order:
            for q in QUERIES[:3]:
                wall, top = tools.search(tool, homes[tool], q)
                r[tool].setdefault("cold_s", []).append(wall)
                hits.setdefault(f"{tool}:{q}", top)
        for tool in order:
            r[tool].setdefault("warm_s", []).append(tools.warm(tool, homes[tool], warm_n))
    # random weights score many photos almost alike: the same set, and the same first hit
    same = all(
        hits[f"xmodal:{q}"][0] == hits[f"rclip:{q}"][0]
        and set(hits[f"xmodal:{q}"]) == set(hits[f"rclip:{q}"])
        for q in QUERIES[:3]
    )
    cos = tools.int8_cosines() if int8 else []
    return {"raw": r, "same_top5": same, "hits": hits, "int8_cosines": cos}


def ratios(raw: dict[str, dict[str, list[float]]]) -> list[float]:
    """The four goals' ratios of medians: images/s xmodal over rclip, then cold query, warm
    query and peak RSS xmodal / rclip."""
    x, c = raw["xmodal"], raw["rclip"]
    med = statistics.median
    return [
        med(c["index_s"]) / med(x["index_s"]),
        med(x["cold_s"]) / med(c["cold_s"]),
        med(x["warm_s"]) / med(c["warm_s"]),
        med(x["peak_gib"]) / med(c["peak_gib"]),
    ]


def extras(raw: dict[str, dict[str, list[float]]]) -> dict[str, float]:
    """The images/s ratios over rclip a run also measured: the float tower alone (the most
    that decoding in parallel could reach) and indexing with ``#onnx-int8``."""
    med = statistics.median
    rclip = med(raw["rclip"]["index_s"])
    out = {}
    if raw["xmodal"].get("tower_s"):
        out["ceiling"] = rclip / med(raw["xmodal"]["tower_s"])
    if raw.get("xmodal-int8", {}).get("index_s"):
        out["int8"] = rclip / med(raw["xmodal-int8"]["index_s"])
    return out


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3g} ({min(values):.3g}-{max(values):.3g})"


def report(res: dict[str, Any], args: argparse.Namespace, n_images: int) -> str:
    raw = res["raw"]
    x, c, i8 = raw["xmodal"], raw["rclip"], raw.get("xmodal-int8", {})
    index_r, cold_r, warm_r, rss_r = ratios(raw)
    more = extras(raw)
    rows = [
        [
            f"index {n_images} photos, images/s",
            _spread([n_images / v for v in x["index_s"]]),
            _spread([n_images / v for v in c["index_s"]]),
            f"{index_r:.2f}x",
        ],
        [
            "index, per round: rclip s / xmodal s",
            "",
            "",
            _spread([cv / xv for xv, cv in zip(x["index_s"], c["index_s"], strict=True)]),
        ],
    ]
    if "ceiling" in more:
        rows.append(
            [
                "image tower alone on prepared pixels, images/s",
                _spread([n_images / v for v in x["tower_s"]]),
                "",
                f"{more['ceiling']:.2f}x (the ceiling)",
            ]
        )
    if "int8" in more:
        cos = res["int8_cosines"]
        rows.append(
            [
                f"index, `#onnx-int8`, images/s (cosine to float: median "
                f"{statistics.median(cos):.4f}, lowest {min(cos):.4f})",
                _spread([n_images / v for v in i8["index_s"]]),
                "",
                f"{more['int8']:.2f}x",
            ]
        )
    rows += [
        ["cold `search`, s", _spread(x["cold_s"]), _spread(c["cold_s"]), f"{cold_r:.2f}"],
        [
            "warm query, ms",
            _spread([v * 1e3 for v in x["warm_s"]]),
            _spread([v * 1e3 for v in c["warm_s"]]),
            f"{warm_r:.2f}",
        ],
        ["peak RSS indexing, GiB", _spread(x["peak_gib"]), _spread(c["peak_gib"]), f"{rss_r:.2f}"],
    ]
    table = md_table(["", "xmodal #onnx", "rclip 3.3.0", "ratio"], rows)
    return (
        f"`python benchmarks/vs_rclip.py --images {args.images} --runs {args.runs} "
        f"--warm {args.warm}{' --int8' if args.int8 else ''} "
        f"--rclip-script .../rclip/scripts/convert_model.py`\n\n"
        f"{facts_markdown(machine_facts())}\n\n{table}\n\n"
        f"Medians (min-max) of {args.runs} interleaved rounds; images/s ratio is xmodal over "
        f"rclip (and per round, the two runs of a round paired), the other ratios xmodal / rclip "
        f"(lower is better). Same first hit and same "
        f"top 5 for the cold queries: {'yes' if res['same_top5'] else 'no'}."
    )


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rclip-script", required=True, help="rclip's scripts/convert_model.py")
    p.add_argument("--rclip-version", default="3.3.0", help="rclip version to install from PyPI")
    p.add_argument("--work", default="bench-out/vs_rclip", help="venv, photos, weights, runs")
    p.add_argument("--images", type=int, default=300, help="distinct 1024x768 JPEGs to index")
    p.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    p.add_argument("--warm", type=int, default=50, help="queries per warm process")
    p.add_argument("--out", help="write the raw figures here as JSON")
    p.add_argument(
        "--int8", action="store_true", help="also index with xmodal's #onnx-int8 each round"
    )
    args = p.parse_args()
    tools = setup(args)
    res = measure(tools, args.runs, args.warm, args.int8)
    text = report(res, args, args.images)
    print(text)
    if args.out:
        Path(args.out).write_text(json.dumps({**res, "markdown": text}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
