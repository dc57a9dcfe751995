"""``xmodal train``: train a joint image-text model from paired data."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from xmodal.cli.common import Subparsers, add_command, end_command, fail, finite, print_json
from xmodal.progress import progress_bar


def add_parser(sub: Subparsers) -> None:
    tr = add_command(
        sub,
        "train",
        "train a joint image-text model from paired data",
        (
            "xmodal train --data data/openmoji --out models/heads",
            "xmodal train --data pairs.tsv --method cca --dim 64 --out models/cca",
            "xmodal index ~/Pictures --model trained:models/heads   # then use it",
        ),
    )
    tr.add_argument("--data", required=True, help="a prepared OpenMoji split or a manifest TSV")
    tr.add_argument("--method", default="heads-infonce", help="heads-infonce, cca, ... ")
    tr.add_argument("--out", required=True, metavar="DIR", help="model directory to write")
    tr.add_argument("--val", help="validation data (default: a held-out share of --data)")
    tr.add_argument(
        "--image-encoder", default="classic", help="encoder of the image side (default classic)"
    )
    tr.add_argument(
        "--text-encoder", default="minilm", help="encoder of the text side (default minilm)"
    )
    tr.add_argument("--epochs", type=int, help="most epochs to train")
    tr.add_argument("--dim", type=int, help="dimension of the joint space")
    tr.add_argument("--batch-size", type=int, help="pairs per training step")
    tr.add_argument("--lr", type=float, help="learning rate")
    tr.add_argument("--patience", type=int, help="stop after this many epochs without gain")
    tr.add_argument("--device", help="auto, cpu or cuda[:N]")
    tr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tr.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other option")
    end_command(tr, cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from xmodal.learn.train import TrainConfig, train

    options: dict[str, Any] = {
        "train_data": args.data,
        "out": args.out,
        "method": args.method,
        "val_data": args.val,
        "image_encoder": args.image_encoder,
        "text_encoder": args.text_encoder,
        "seed": args.seed,
        "resume": args.resume,
        "progress": not args.json,
        "command": shlex.join(["xmodal", *sys.argv[1:]]),
    }
    for name in ("epochs", "dim", "batch_size", "lr", "patience", "device"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    for item in args.set or ():
        key, eq, raw = item.partition("=")
        if not eq:
            return fail(f"--set expects KEY=VALUE, got {item!r}")
        try:
            options[key.replace("-", "_")] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.replace("-", "_")] = raw
    try:
        config = TrainConfig.from_json(options)
    except TypeError as e:
        return fail(f"bad training option: {e}")
    config.validate()
    result = train(config, None if args.json else progress_bar)
    summary = {
        "out": str(result.out),
        "method": result.method,
        "model": f"trained:{result.out}",
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "seconds": round(result.seconds, 2),
        "metrics": finite(dict(result.metrics)),
    }
    if args.json:
        print_json(summary)
        return 0
    print(f"trained {result.method} in {result.seconds:.1f} s -> {result.out}")
    for k, v in sorted(result.metrics.items()):
        print(f"  validation {k}: {v:.4f}")
    print(f"index and search with --model trained:{result.out}")
    return 0
