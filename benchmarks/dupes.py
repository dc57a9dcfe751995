"""Near-duplicate detection measured on generated variants: precision and recall of pairs.

    python benchmarks/dupes.py --bases 60 --out /tmp/dupes

Writes ``--bases`` photo-like originals (seeded smooth colour fields with shapes and noise),
and for each a set of variants: an exact copy, a half-size copy, a JPEG at quality 30, a copy
cropped by 5% on each side, and a copy both resized and recompressed. Indexes them with
``classic``, then scores every pair that ``find_duplicates`` groups together against the
truth (two files are duplicates when they come from the same original), for each kind of
evidence alone and together. Beside each original lies a sibling, the same background with
other shapes on it: alike, but no duplicate, so a loose threshold costs precision.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from _common import facts_markdown, machine_facts, md_table
from xmodal.apply.dupes import find_duplicates
from xmodal.collection import Collection

VARIANTS = ("copy", "half", "jpeg30", "crop5", "half_jpeg50")


def original(seed: int, shapes: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A picture whose background follows ``seed`` and whose shapes follow ``shapes``."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    base = np.stack(
        [
            rng.uniform(0, 255) + rng.uniform(-120, 120) * (x * rng.uniform() + y * rng.uniform())
            for _ in range(3)
        ],
        axis=-1,
    )
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    rng = np.random.default_rng([seed, shapes])
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        box = (x0, y0, x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120)))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.uniform() < 0.5 else draw.rectangle)(box, fill=fill)
    noise = rng.normal(0, 6, (h, w, 3))
    im = im.filter(ImageFilter.GaussianBlur(1))
    return Image.fromarray(np.clip(np.asarray(im) + noise, 0, 255).astype(np.uint8))


def variant(im: Image.Image, kind: str, out: Path) -> None:
    w, h = im.size
    if kind == "half":
        im.resize((w // 2, h // 2), Image.Resampling.LANCZOS).save(out.with_suffix(".png"))
    elif kind == "jpeg30":
        im.save(out.with_suffix(".jpg"), quality=30)
    elif kind == "crop5":
        dx, dy = w // 20, h // 20
        im.crop((dx, dy, w - dx, h - dy)).save(out.with_suffix(".png"))
    elif kind == "half_jpeg50":
        im.resize((w // 2, h // 2)).save(out.with_suffix(".jpg"), quality=50)


def make_set(root: Path, bases: int) -> None:
    for b in range(bases):
        im = original(b, 0)
        # the same scene with other shapes in it: alike, but not a duplicate
        original(b, 1).save(root / f"s{b:03d}_sibling.png")
        first = root / f"b{b:03d}_orig.png"
        im.save(first)
        for kind in VARIANTS:
            if kind == "copy":
                shutil.copyfile(first, root / f"b{b:03d}_copy.png")
            else:
                variant(im, kind, root / f"b{b:03d}_{kind}")


def pair_scores(groups: list[list[str]], paths: list[str]) -> tuple[float, float]:
    def base(p: str) -> str:
        return os.path.basename(p).split("_")[0]

    found = {frozenset(pr) for g in groups for pr in itertools.combinations(g, 2)}
    true = {frozenset(pr) for pr in itertools.combinations(paths, 2) if base(pr[0]) == base(pr[1])}
    tp = len(found & true)
    return tp / max(len(found), 1), tp / max(len(true), 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bases", type=int, default=100)
    ap.add_argument("--out", default="/tmp/xmodal-dupes")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    (out / "media").mkdir(parents=True)
    make_set(out / "media", args.bases)
    rows = []
    with Collection.open(out / "db") as col:
        col.index([out / "media"], models=["classic"])
        paths = sorted(col.ids())
        settings = [
            ("exact only", None, None),
            ("pHash <= 10 bits", None, 10),
            ("pHash <= 6 bits", None, 6),
            ("vectors >= 0.95", 0.95, None),
            ("vectors >= 0.90", 0.90, None),
            ("vectors >= 0.80", 0.80, None),
            ("pHash <= 10 + vectors >= 0.95 (default)", 0.95, 10),
        ]
        for name, threshold, distance in settings:
            rep = find_duplicates(col.store, threshold=threshold, max_distance=distance)
            p, r = pair_scores([g.paths for g in rep.groups], paths)
            rows.append([name, len(rep.groups), f"{p:.3f}", f"{r:.3f}"])
    print(facts_markdown(machine_facts()))
    print(
        f"\n{args.bases} originals x {1 + len(VARIANTS)} files + {args.bases} siblings = "
        f"{len(paths)} images ({args.bases * 15} true pairs), model classic\n"
    )
    print(md_table(["links", "groups", "pair precision", "pair recall"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
