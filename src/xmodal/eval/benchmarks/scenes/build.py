"""Preparing the scenes benchmark on disk: pictures, caption documents, tasks, records."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xmodal.atomic import atomic_write_text
from xmodal.errors import XmodalError
from xmodal.eval.benchmarks import (
    BenchmarkLayout,
    Staging,
    Task,
    image_query,
    load_layout,
    write_manifest,
    write_task,
)
from xmodal.eval.benchmarks.options import doc, make_options
from xmodal.eval.benchmarks.scenes.drawing import (
    CELLS,
    COLOURS,
    Level,
    Scene,
    generate,
    get_level,
)
from xmodal.eval.benchmarks.scenes.queries import caption, judge, query_text, text_task_specs
from xmodal.progress import ProgressFactory

NAME = "scenes"
RECORDS_FILE = "scenes.json"


@dataclass(frozen=True, slots=True)
class ScenesOptions:
    """What ``bench prepare scenes`` takes."""

    n_images: int = field(default=500, metadata=doc("number of images"))
    seed: int = field(
        default=0, metadata=doc("seed of the pictures, the file names and the query sample")
    )
    difficulty: str = field(default="easy", metadata=doc("easy or hard"))
    size: int = field(default=128, metadata=doc("image side in pixels"))
    max_queries: int = field(default=200, metadata=doc("at most this many queries per text task"))
    oracle_captions: bool = field(
        default=False,
        metadata=doc("give each picture its caption as a sidecar (an upper-bound baseline)"),
    )


def prepare(
    out: Path, *, progress: ProgressFactory | None = None, **options: Any
) -> BenchmarkLayout:
    """Prepare the synthetic-scenes benchmark in ``out`` (replacing an earlier one).

    ``options`` are the fields of :class:`ScenesOptions`. ``max_queries`` caps each task's
    text queries (a seeded sample keeps them varied); ``i2t`` has one query per picture.
    """
    opts = make_options(ScenesOptions, options, benchmark=NAME)
    level = get_level(opts.difficulty)
    if opts.n_images < 1:
        raise XmodalError(f"n_images must be positive, got {opts.n_images}")
    if not 32 <= opts.size <= 2048:
        raise XmodalError(f"size must be between 32 and 2048 pixels, got {opts.size}")
    if opts.max_queries < 1:
        raise XmodalError(f"max_queries must be positive, got {opts.max_queries}")
    params: dict[str, Any] = asdict(opts)
    names = random.Random(f"scenes-names-{opts.seed}-{opts.difficulty}")
    image_numbers = list(range(1, opts.n_images + 1))
    names.shuffle(image_numbers)
    text_numbers = list(range(1, opts.n_images + 1))
    names.shuffle(text_numbers)

    with Staging(out) as root:
        (root / "images").mkdir()
        (root / "texts").mkdir()
        scenes: list[Scene] = []
        drawn = generate(
            opts.n_images,
            seed=opts.seed,
            difficulty=opts.difficulty,
            size=opts.size,
            progress=progress,
        )
        for (image, background, shapes), i_num, t_num in zip(
            drawn, image_numbers, text_numbers, strict=True
        ):
            scene = Scene(
                image=f"images/img-{i_num:06d}.png",
                text=f"texts/{t_num:06d}.txt",
                caption=caption(shapes),
                background=background,
                shapes=shapes,
            )
            image.save(root / scene.image, format="PNG", optimize=False)
            atomic_write_text(root / scene.text, scene.caption + "\n")
            if opts.oracle_captions:
                # the answer key beside the picture: text spaces read it as the image's words
                atomic_write_text((root / scene.image).with_suffix(".txt"), scene.caption + "\n")
            scenes.append(scene)
        scenes.sort(key=lambda s: s.image)
        write_manifest(_write_tasks(root, scenes, level, params))
    return load_layout(out)


def _text_task(
    root: Path,
    name: str,
    description: str,
    specs: Sequence[dict[str, Any]],
    scenes: Sequence[Scene],
    records: dict[str, Any],
) -> Task:
    """Write one text task; ``records`` gets each query's text and structured form."""
    queries: list[tuple[str, str]] = []
    qrels: dict[str, dict[str, int]] = {}
    for n, spec in enumerate(specs, start=1):
        qid = f"{name}-{n:05d}"
        text = query_text(spec)
        queries.append((qid, text))
        qrels[qid] = judge(spec, scenes)
        records[qid] = {"text": text, "spec": spec}
    return write_task(
        root,
        name,
        queries,
        qrels,
        description=description,
        metric="map",
        query_modality="text",
        target_modality="image",
    )


def _i2t_task(root: Path, scenes: Sequence[Scene]) -> Task:
    same_caption: dict[str, list[str]] = {}
    for s in scenes:
        same_caption.setdefault(s.caption, []).append(s.text)
    queries = [(f"i2t-{n:05d}", image_query(s.image)) for n, s in enumerate(scenes, start=1)]
    qrels = {
        qid: {t: 1 for t in same_caption[s.caption]}
        for (qid, _), s in zip(queries, scenes, strict=True)
    }
    return write_task(
        root,
        "i2t",
        queries,
        qrels,
        description="picture → its caption document (and captions that read the same)",
        metric="recall@10",
        query_modality="image",
        target_modality="text",
    )


def _write_tasks(
    root: Path, scenes: Sequence[Scene], level: Level, params: dict[str, Any]
) -> BenchmarkLayout:
    sampler = random.Random(f"scenes-queries-{params['seed']}-{params['difficulty']}")
    records_queries: dict[str, dict[str, Any]] = {}
    tasks: list[Task] = []
    for name, description, specs in text_task_specs(scenes, level, params["max_queries"], sampler):
        records_queries[name] = {}
        tasks.append(_text_task(root, name, description, specs, scenes, records_queries[name]))
    tasks.append(_i2t_task(root, scenes))

    records = {
        "params": params,
        "colours": {c: list(COLOURS[c]) for c in level.colours},
        "cells": {p: list(cr) for p, cr in CELLS.items()},
        "scenes": [asdict(s) for s in scenes],
        "queries": records_queries,
    }
    atomic_write_text(root / RECORDS_FILE, json.dumps(records, indent=1) + "\n")
    return BenchmarkLayout(
        name=NAME,
        root=root,
        documents=(root / "images", root / "texts"),
        tasks=tuple(tasks),
        description=f"synthetic shape scenes ({params['difficulty']}) with exact labels"
        + (" - ORACLE: every picture carries its caption" if params["oracle_captions"] else ""),
        params=params,
        counts={"images": len(scenes), "texts": len(scenes)},
    )
