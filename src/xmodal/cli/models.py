"""``xmodal models``: the registered encoders (list), weights (pull), classic variants (fit)."""

from __future__ import annotations

import argparse
from typing import Any

from xmodal.cli.common import Subparsers, add_group, end_command, fail, print_json
from xmodal.progress import progress_bar


def add_parser(sub: Subparsers) -> None:
    msub = add_group(sub, "models", help="encoders", dest="models_command")
    ml = msub.add_parser("list", help="every registered encoder and whether it runs offline")
    end_command(ml, cmd_models_list)
    mp = msub.add_parser("pull", help="download a model's weights into the cache (checksummed)")
    mp.add_argument("name", help="e.g. clip:ViT-B-32@laion2b_s34b_b79k")
    mp.set_defaults(online=True)
    end_command(mp, cmd_models_pull)
    mf = msub.add_parser("fit", help="fit a classic variant (bovw or pca) on a folder of images")
    mf.add_argument("kind", choices=("bovw", "pca"))
    mf.add_argument("folder", help="images to fit on (a sample of them)")
    mf.add_argument("--out", required=True, help="model file to write (.npz)")
    mf.add_argument("-k", type=int, help="visual words (bovw, default 256) or dimensions (pca, 64)")
    mf.add_argument("--sample", type=int, default=2000, help="at most this many images")
    mf.add_argument("--seed", type=int, default=0)
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
    for r in rows:
        mark = "yes" if r["available"] else "no "
        print(
            f"{r['name']:<16} {mark}  {','.join(r['modalities']):<11} dim {r['dim']!s:<5} "
            f"{r['size']:<18} {r['description']}"
        )
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from xmodal.encoders.registry import info

    inf = info(args.name)
    if inf.pull is None:
        ok, why = inf.available()
        return fail(f"nothing to pull for {args.name!r}: {why if ok else 'unavailable: ' + why}")
    path = inf.pull(args.name, progress=not args.json)
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
