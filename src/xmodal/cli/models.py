"""``xmodal models``: the registered encoders (list), weights (pull), classic variants (fit)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_group,
    end_command,
    fail,
    print_json,
)
from xmodal.cli.display import cut, pad, text_width, wrap
from xmodal.progress import progress_bar

#: ``models list`` fits a terminal of this many columns
TABLE_WIDTH = 100


def add_parser(sub: Subparsers) -> None:
    msub = add_group(
        sub,
        "models",
        help="encoders: list them, download weights, fit classic variants",
        dest="models_command",
        examples=("xmodal models list", "xmodal models pull clip:ViT-B-32@laion2b_s34b_b79k"),
    )
    ml = add_command(
        msub,
        "list",
        "every registered encoder and whether it runs offline",
        ("xmodal models list", "xmodal models list --json"),
    )
    end_command(ml, cmd_models_list)
    mp = add_command(
        msub,
        "pull",
        "download a model's weights into the cache (checksummed)",
        (
            "xmodal models pull clip:ViT-B-32@laion2b_s34b_b79k",
            "xmodal models pull hf-clip:OFA-Sys/chinese-clip-vit-base-patch16",
        ),
    )
    mp.add_argument("name", help="e.g. clip:ViT-B-32@laion2b_s34b_b79k")
    mp.set_defaults(online=True)
    end_command(mp, cmd_models_pull)
    mf = add_command(
        msub,
        "fit",
        "fit a classic variant (bovw or pca) on a folder of images",
        (
            "xmodal models fit bovw ~/Pictures --out ~/models/bovw.npz",
            "xmodal models fit pca ~/Pictures --out pca.npz -k 32 --sample 500",
        ),
    )
    mf.add_argument("kind", choices=("bovw", "pca"), help="bag of visual words, or PCA")
    mf.add_argument("folder", help="images to fit on (a sample of them)")
    mf.add_argument("--out", required=True, help="model file to write (.npz)")
    mf.add_argument("-k", type=int, help="visual words (bovw, default 256) or dimensions (pca, 64)")
    mf.add_argument("--sample", type=int, default=2000, help="at most this many images")
    mf.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    end_command(mf, cmd_models_fit)


def cmd_models_list(args: argparse.Namespace) -> int:
    from xmodal.encoders.registry import families

    rows: list[dict[str, Any]] = []
    for inf in families():
        ok, why = inf.available()
        rows.append(
            {
                "name": inf.family,
                "description": inf.description,
                "modalities": sorted(str(m) for m in inf.modalities),
                "dim": inf.dim,
                "languages": list(inf.languages),
                "size": inf.size,
                "kind": inf.kind,
                "available": ok,
                "status": why,
            }
        )
    if args.json:
        print_json({"models": rows})
        return 0
    print("\n".join(models_table(rows)))
    return 0


def models_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The encoders in aligned columns, each description wrapped under its row, every line
    at most ``TABLE_WIDTH`` columns wide."""
    header = ("name", "available", "modalities", "dim", "size")
    cells = [
        (
            cut(str(r["name"]), 24),
            "yes" if r["available"] else "no",
            cut(",".join(r["modalities"]), 16),
            "-" if r["dim"] is None else str(r["dim"]),
            cut(str(r["size"]), 28),
        )
        for r in rows
    ]
    widths = [max(text_width(c[i]) for c in (header, *cells)) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(pad(v, w) for v, w in zip(values, widths, strict=True)).rstrip()

    lines = [line(header)]
    for r, c in zip(rows, cells, strict=True):
        lines.append(line(c))
        indent = " " * 4
        lines.extend(indent + d for d in wrap(str(r["description"]), TABLE_WIDTH - len(indent)))
    return lines


def cmd_models_pull(args: argparse.Namespace) -> int:
    from xmodal.encoders.registry import info

    inf = info(args.name)
    if inf.pull is None:
        ok, why = inf.available()
        return fail(f"nothing to pull for {args.name!r}: {why if ok else 'unavailable: ' + why}")
    bar = None if args.json else progress_bar(f"pulling {args.name}", unit="B", scale=True)
    path = inf.pull(args.name, progress=bar)
    if args.json:
        print_json({"model": args.name, "path": str(path)})
    else:
        print(f"{args.name}: {path}")
    return 0


def cmd_models_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xmodal.encoders.classic import fit_from_folder

    size = args.k if args.k is not None else (256 if args.kind == "bovw" else 64)
    if size <= 0 or args.sample <= 0:
        return fail("-k and --sample must be positive")
    out = fit_from_folder(
        args.kind,
        Path(args.folder),
        Path(args.out),
        sample=args.sample,
        k_or_dim=size,
        seed=args.seed,
        progress=None if args.json else progress_bar(f"fitting {args.kind}", unit="image"),
    )
    name = f"classic:{args.kind}@{out}"
    if args.json:
        print_json({"model": name, "path": str(out)})
    else:
        print(f"fitted {args.kind} on {args.folder}: index with --model {name}")
    return 0
