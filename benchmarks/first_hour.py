"""The first hour of a new user, timed: a folder like a real one (desktop pictures, photos,
Chinese notes, system documentation with PDFs, HTML and a DOCX, a 6000x4000 PNG, symlinks)
indexed with the default encoders through the CLI, then searched cold and warm.

Run it against any checkout by pointing PYTHONPATH at that checkout's ``src``:

    PYTHONPATH=src python benchmarks/first_hour.py --work /tmp/fh-after --out after.json

It records the index time, the time to the first progress update, cold per-query time (one
``xmodal search`` process per query), warm per-query time (``search --interactive``, where the
checkout has it), the rank of a copy of a picture queried with ``--image``, and the files of
each type that did not become items.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

QUERIES = ("a cat", "license", "湖边的问卷调查", "installation notes")
#: scikit-image's bundled samples (those that need no download)
SAMPLES = (
    "astronaut", "camera", "chelsea", "coffee", "coins", "horse", "hubble_deep_field",
    "immunohistochemistry", "moon", "page", "rocket", "text", "retina", "cat", "brick",
    "grass", "gravel", "clock", "colorwheel", "logo", "motorcycle_left",
)  # fmt: skip
NOTES = {
    "问卷-西湖.txt": "西湖边的问卷调查：游客对公共厕所和指示牌的满意度。",
    "问卷-地铁.txt": "地铁乘客问卷：高峰时段拥挤程度和换乘时间。",
    "访谈-老人.txt": "社区老人访谈记录：看病、买菜和子女探望的频率。",
    "调研-菜市场.txt": "菜市场摊主调研：租金、客流和线上订单的变化。",
    "总结.txt": "本次调研的总结：样本量、抽样方法和主要发现。",
}


def _doc_files(limit: int) -> list[Path]:
    """Plain files from /usr/share/doc: READMEs, copyright files (no extension), HTML."""
    picked: list[Path] = []
    for pkg in sorted(Path("/usr/share/doc").iterdir()):
        for name in ("copyright", "README", "README.Debian", "README.md", "index.html"):
            f = pkg / name
            if f.is_file() and not f.is_symlink() and f.stat().st_size < 200_000:
                picked.append(f)
        if len(picked) >= limit:
            break
    return picked[:limit]


def build_folder(root: Path) -> dict[str, list[str]]:
    """The folder; returns the relative paths of its files by type."""
    import docx
    import skimage.data

    kinds: dict[str, list[str]] = {}

    def put(kind: str, rel: str) -> Path:
        kinds.setdefault(kind, []).append(rel)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        return root / rel

    for base in (Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers")):
        for f in sorted(base.rglob("*"))[:20] if base.is_dir() else []:
            if f.suffix.lower() in (".jpg", ".png", ".svg") and f.is_file():
                shutil.copy(f, put(f.suffix.lower()[1:], f"wallpapers/{f.name}"))
    for name in SAMPLES:
        try:
            arr = getattr(skimage.data, name)()
        except Exception:  # a sample that needs a download (pooch) is left out
            continue
        arr = np.asarray(arr)
        if arr.dtype != np.uint8:
            arr = (255 * (arr.astype(float) / max(1, arr.max()))).astype(np.uint8)
        ext = "jpg" if name in ("astronaut", "coffee", "rocket") else "png"
        Image.fromarray(arr).save(put(ext, f"samples/{name}.{ext}"))
    chelsea = root / "samples" / "chelsea.png"
    if chelsea.exists():  # the same picture under a camera's name
        shutil.copy(chelsea, put("png", "phone/IMG_4032.png"))
    for name, text in NOTES.items():
        put("txt", f"notes/{name}").write_text((text + "\n") * 40, encoding="utf-8")
    for f in _doc_files(79):
        kind = f.suffix.lower()[1:] or "no extension"
        rel = f"doc/{f.parent.name}/{f.name}"
        shutil.copy(f, put(kind, rel))
    for page in sorted(Path("/usr/share/doc").rglob("*.html"))[:6]:
        shutil.copy(page, put("html", f"doc/html/{page.parent.name}-{page.name}"))
    for pdf in sorted(Path("/usr/share/doc").rglob("*.pdf"))[:2]:
        shutil.copy(pdf, put("pdf", f"doc/pdf/{pdf.name}"))
    document = docx.Document()
    document.add_paragraph("Survey plan: three districts, two weeks, one questionnaire.")
    document.save(put("docx", "notes/plan.docx"))
    big = Image.new("RGB", (6000, 4000), (40, 90, 160))
    ImageDraw.Draw(big).ellipse((1500, 1000, 4500, 3000), fill=(240, 200, 40))
    big.save(put("png", "big/poster-6000x4000.png"), compress_level=1)
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        Image.open(chelsea).save(put("heic", "phone/IMG_4033.heic"))
    except Exception:  # pillow-heif (xmodal[heif]) not installed: no HEIC in the folder
        pass
    os.symlink("samples", root / "pictures-link")
    os.symlink(root / "notes" / "总结.txt", root / "summary-link.txt")
    return kinds


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "XMODAL_PROGRESS": "1", "XMODAL_DB": str(db)}


def _cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "xmodal.cli", *map(str, args)]


def timed_index(root: Path, db: Path, models: list[str]) -> dict[str, Any]:
    """Index time, and the time to the first progress update (a bar that counts past 0)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        _cli("index", root, "--db", db, *[a for m in models for a in ("--model", m)]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=_env(db),
    )  # fmt: skip
    assert proc.stderr is not None and proc.stdout is not None
    first: float | None = None
    err = b""
    while True:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                break
            err += chunk
            if first is None and re.search(rb"\b[1-9]\d*/\d+", err):
                first = time.monotonic() - start
        elif proc.poll() is not None:
            break
    out = proc.stdout.read().decode()
    proc.wait()
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"index failed: {err.decode()[-2000:]}")
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    return {"index_s": took, "first_progress_s": first, "summary": summary}


def cold_queries(db: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        for q in QUERIES:
            start = time.monotonic()
            subprocess.run(_cli("search", q, "--db", db, "--json"), env=_env(db),
                           capture_output=True, check=True)  # fmt: skip
            times.append(time.monotonic() - start)
    return times


def warm_queries(db: Path, repeat: int) -> list[float] | None:
    """Per-query time inside one ``search --interactive --json`` session, after its first
    answer (which loads the models)."""
    proc = subprocess.Popen(
        _cli("search", "--interactive", "--json", "--db", db), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(db), text=True, bufsize=1,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    times = []
    try:
        for n in range(repeat * len(QUERIES) + 1):
            start = time.monotonic()
            try:
                proc.stdin.write(QUERIES[n % len(QUERIES)] + "\n")
                proc.stdin.flush()
            except BrokenPipeError:
                return None  # no interactive mode in this checkout
            line = proc.stdout.readline()
            if not line:
                return None  # no interactive mode in this checkout
            json.loads(line)
            if n:
                times.append(time.monotonic() - start)
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        proc.wait(timeout=60)
    return times


def copy_rank(root: Path, db: Path, work: Path) -> int | None:
    """Rank of ``phone/IMG_4032.png`` when its picture is queried from a file named after
    what it shows (``chelsea.png``, outside the folder)."""
    query = work / "query" / "chelsea.png"
    query.parent.mkdir(exist_ok=True)
    shutil.copy(root / "samples" / "chelsea.png", query)
    out = subprocess.run(_cli("search", "--image", query, "--db", db, "--json", "-k", "100"),
                         env=_env(db), capture_output=True, text=True, check=True)  # fmt: skip
    paths = [h["path"] for h in json.loads(out.stdout)["results"]]
    target = str(root / "phone" / "IMG_4032.png")
    original = str(root / "samples" / "chelsea.png")
    # the original and its copy are the same picture: the copy counts among the others
    ranked = [p for p in paths if p != original]
    return ranked.index(target) + 1 if target in ranked else None


def not_indexed(root: Path, db: Path, kinds: dict[str, list[str]]) -> dict[str, list[str]]:
    with sqlite3.connect(db / "xmodal.db") as conn:
        items = {r[0] for r in conn.execute("SELECT path FROM items")}
    missing = {
        kind: [rel for rel in rels if str(root / rel) not in items] for kind, rels in kinds.items()
    }
    return {k: v for k, v in missing.items() if v}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (emptied)")
    ap.add_argument("--out", type=Path, help="write the figures here as JSON")
    ap.add_argument(
        "--model", action="append", default=[], help="encoder to index with (repeatable)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the queries (default 3)")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    root, db = args.work / "folder", args.work / "collection"
    root.mkdir(parents=True)
    kinds = build_folder(root)
    files = sum(len(v) for v in kinds.values())
    result: dict[str, Any] = {"files": files, "kinds": {k: len(v) for k, v in kinds.items()}}
    result.update(timed_index(root, db, args.model))
    result["models"] = args.model or ["(default)"]
    cold = cold_queries(db, args.repeat)
    warm = warm_queries(db, args.repeat)
    result["cold_query_s"] = statistics.median(cold)
    result["warm_query_s"] = statistics.median(warm) if warm else None
    result["copy_rank"] = copy_rank(root, db, args.work)
    result["not_indexed"] = not_indexed(root, db, kinds)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
