"""Running a prepared built-in benchmark: index its documents, run every task, score it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xmodal.collection import Collection
from xmodal.errors import UsageError
from xmodal.eval.benchmarks import BenchmarkLayout, Task
from xmodal.eval.metrics import DEFAULT_KS, EvalResult, evaluate
from xmodal.eval.runner import (
    IMAGE_PREFIX,
    CollectionEval,
    RunOptions,
    evaluate_collection,
    qrels_by_path,
    read_queries,
)
from xmodal.eval.trec import Qrels, Run, read_qrels
from xmodal.ingest.pipeline import IndexOptions
from xmodal.media.walk import walk
from xmodal.progress import ProgressFactory
from xmodal.query.filters import Filters
from xmodal.records import IndexReport, Modality


@dataclass(frozen=True, slots=True)
class RunPlan:
    """Where a benchmark run's collection lives and which space it searches."""

    models: list[str] | None
    """The encoders to index with; None for the collection's defaults."""
    db: str
    space: str | None
    """The one space searched; None to search every space."""

    @property
    def label(self) -> str:
        return self.space or "all spaces"


def plan_run(
    layout: BenchmarkLayout,
    models: Sequence[str] | None = None,
    *,
    db: str | None = None,
    space: str | None = None,
) -> RunPlan:
    """The collection folder and space of a run: by default a folder per encoder set in
    the benchmark's own folder (``db-MODELS``), and a single encoder's own space."""
    chosen = list(models) if models else None
    label = "+".join(chosen) if chosen else "default"
    slug = "".join(c if c.isalnum() or c in "-_+." else "_" for c in label)[:80]
    return RunPlan(
        models=chosen,
        db=db or os.path.join(layout.root, f"db-{slug}"),
        space=space or (chosen[0] if chosen and len(chosen) == 1 else None),
    )


def report_dir(report_root: str, task: str) -> str:
    """Where ``bench run --report DIR`` writes the report of ``task``."""
    return os.path.join(report_root, task)


@dataclass(frozen=True, slots=True)
class TaskResult:
    task: Task
    qrels: Qrels
    eval: CollectionEval


def index_benchmark(
    col: Collection,
    layout: BenchmarkLayout,
    models: Sequence[str] | None = None,
    progress: ProgressFactory | None = None,
) -> IndexReport:
    return col.index(
        list(layout.documents), models=models, options=IndexOptions(), progress=progress
    )


def run_tasks(
    col: Collection,
    layout: BenchmarkLayout,
    *,
    tasks: Sequence[str] | None = None,
    model: str | None = None,
    depth: int = 100,
    progress: ProgressFactory | None = None,
) -> dict[str, TaskResult]:
    """Every (or the named) task of ``layout`` against ``col``, results restricted to the
    task's target modality and image queries kept out of their own results."""
    chosen = [t for t in layout.tasks if tasks is None or t.name in tasks]
    unknown = set(tasks or ()) - {t.name for t in layout.tasks}
    if unknown:
        have = ", ".join(t.name for t in layout.tasks)
        raise UsageError(f"unknown task {sorted(unknown)[0]!r}; {layout.name} has: {have}")
    ids = col.ids()
    out: dict[str, TaskResult] = {}
    for task in chosen:
        qrels = qrels_by_path(read_qrels(task.qrels), ids, layout.root)
        options = RunOptions(
            depth=depth,
            model=model,
            base_dir=os.fspath(layout.root),
            exclude_query_item=task.exclude_query_item,
            filters=Filters(modalities=frozenset({Modality(task.target_modality)})),
        )
        ev = evaluate_collection(
            col,
            read_queries(task.queries),
            qrels,
            ks=sorted({*DEFAULT_KS, 100}),
            options=options,
            progress=progress,
        )
        out[task.name] = TaskResult(task, qrels, ev)
    return out


def random_baseline(
    layout: BenchmarkLayout,
    *,
    tasks: Sequence[str] | None = None,
    depth: int = 100,
    seed: int = 0,
) -> dict[str, EvalResult]:
    """What chance scores: every query ranks the task's candidate documents at random.

    Candidates are the documents of the task's target modality, less an image query's own
    picture; the qrels are used with their path ids as written, no collection needed.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, EvalResult] = {}
    for task in layout.tasks:
        if tasks is not None and task.name not in tasks:
            continue
        wanted = Modality(task.target_modality)
        docs = sorted(
            os.path.relpath(f.path, layout.root)
            for f in walk(list(layout.documents)).files
            if f.modality is wanted
        )
        queries = read_queries(task.queries)
        run: Run = {}
        for qid, text in queries.items():
            own = text[len(IMAGE_PREFIX) :] if text.startswith(IMAGE_PREFIX) else None
            pool = [d for d in docs if d != own]
            picks = rng.permutation(len(pool))[:depth]
            run[qid] = {pool[i]: float(depth - r) for r, i in enumerate(picks)}
        out[task.name] = evaluate(read_qrels(task.qrels), run, sorted({*DEFAULT_KS, 100}))
    return out
