"""Built-in benchmark datasets: prepared on disk, described by a ``benchmark.json`` manifest.

A prepared benchmark is a folder::

    ROOT/benchmark.json        the manifest read by :func:`load_layout`
    ROOT/images/, ROOT/texts/  the documents to index (no sidecars, file names without words)
    ROOT/queries/TASK.tsv      ``qid<TAB>query``; ``image:RELPATH`` is an image query
    ROOT/qrels/TASK.qrels      TREC qrels whose document ids are paths relative to ROOT

Document ids in the qrels are relative paths because item ids exist only once a collection
has indexed the documents; a runner maps them with the collection's ``ids()``.

Queries are meant to be taken literally (no query syntax): OpenMoji annotations such as
"flag: Congo - Kinshasa" would otherwise be read as a subtraction.

Each task names the modality its relevant documents have (``target_modality``); a runner
should restrict results to it, or a text query would find the text documents of an i2t task
ahead of every image. Image-query tasks set ``exclude_query_item``: the query image is
itself in the collection and would otherwise come first in its own results.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from xmodal.atomic import atomic_write_text
from xmodal.errors import XmodalError
from xmodal.eval.trec import write_qrels

MANIFEST = "benchmark.json"
FORMAT_VERSION = 1
IMAGE_QUERY_PREFIX = "image:"

Modality = Literal["image", "text"]
_MODALITIES: tuple[Modality, ...] = ("image", "text")

PrepareFn = Callable[..., "BenchmarkLayout"]
"""``prepare(out: Path, *, progress: ProgressFactory | None, **options) -> BenchmarkLayout``"""

# Imported on first use, so that importing this package stays cheap and the built-ins can
# import the records defined here without a cycle.
_BUILTIN_MODULES = (
    "xmodal.eval.benchmarks.openmoji",
    "xmodal.eval.benchmarks.scenes",
    "xmodal.eval.benchmarks.emoji_styles",
)


@dataclass(frozen=True, slots=True)
class Task:
    """One set of queries with its judgements. Paths are absolute."""

    name: str
    queries: Path
    qrels: Path
    description: str
    metric: str
    query_modality: Modality
    target_modality: Modality
    documents: tuple[Path, ...]
    exclude_query_item: bool = False
    num_queries: int = 0


@dataclass(frozen=True, slots=True)
class BenchmarkLayout:
    """A prepared benchmark on disk. Paths are absolute."""

    name: str
    root: Path
    documents: tuple[Path, ...]
    tasks: tuple[Task, ...]
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        have = ", ".join(t.name for t in self.tasks) or "none"
        raise XmodalError(f"benchmark {self.name!r} has no task {name!r}; it has: {have}")


# --- registry ---------------------------------------------------------------------------

_REGISTRY: dict[str, PrepareFn] = {}


def register_benchmark(name: str, prepare_fn: PrepareFn) -> None:
    """Make ``prepare_fn`` available as ``name``; a name can be registered only once."""
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"benchmark name must be non-empty and without spaces: {name!r}")
    if name in _REGISTRY and _REGISTRY[name] is not prepare_fn:
        raise ValueError(f"a benchmark named {name!r} is already registered")
    _REGISTRY[name] = prepare_fn


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def get_benchmark(name: str) -> PrepareFn:
    """The prepare function registered as ``name``."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        have = ", ".join(sorted(_REGISTRY)) or "none"
        raise XmodalError(f"unknown benchmark {name!r}; known: {have}") from None


def benchmark_names() -> list[str]:
    """Every registered benchmark, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


# --- manifest ---------------------------------------------------------------------------


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        raise XmodalError(f"{path} is not inside the benchmark folder {root}") from None


def _resolve(root: Path, rel: object, what: str) -> Path:
    # The manifest may come from elsewhere; a path leaving the folder is refused rather
    # than followed.
    if not isinstance(rel, str) or not rel:
        raise XmodalError(f"{root / MANIFEST}: {what} must be a relative path, got {rel!r}")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        raise XmodalError(f"{root / MANIFEST}: {what} {rel!r} leaves the benchmark folder")
    return root.joinpath(*pure.parts)


def layout_to_json(layout: BenchmarkLayout) -> dict[str, Any]:
    """The manifest's content for ``layout``: every path relative to its root."""
    root = layout.root
    return {
        "format": FORMAT_VERSION,
        "name": layout.name,
        "description": layout.description,
        "params": dict(layout.params),
        "counts": dict(layout.counts),
        "documents": [_rel(root, d) for d in layout.documents],
        "tasks": [
            {
                "name": t.name,
                "description": t.description,
                "metric": t.metric,
                "queries": _rel(root, t.queries),
                "qrels": _rel(root, t.qrels),
                "query_modality": t.query_modality,
                "target_modality": t.target_modality,
                "documents": [_rel(root, d) for d in t.documents],
                "exclude_query_item": t.exclude_query_item,
                "num_queries": t.num_queries,
            }
            for t in layout.tasks
        ],
    }


def write_manifest(layout: BenchmarkLayout) -> Path:
    """Write ``benchmark.json`` into the layout's root, atomically; returns its path."""
    path = layout.root / MANIFEST
    text = json.dumps(layout_to_json(layout), indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(path, text)
    return path


def _modality(raw: object, where: Path, what: str) -> Modality:
    for m in _MODALITIES:
        if raw == m:
            return m
    raise XmodalError(f"{where}: {what} must be one of {', '.join(_MODALITIES)}, got {raw!r}")


def load_layout(root: str | os.PathLike[str]) -> BenchmarkLayout:
    """Read the manifest of a prepared benchmark folder."""
    base = Path(root).expanduser().absolute()
    where = base / MANIFEST
    try:
        raw = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise XmodalError(f"{base} is not a prepared benchmark: {MANIFEST} is missing") from None
    except (OSError, ValueError) as exc:
        raise XmodalError(f"cannot read {where}: {exc}") from None
    if not isinstance(raw, dict):
        raise XmodalError(f"{where}: expected a JSON object")
    if raw.get("format") != FORMAT_VERSION:
        raise XmodalError(
            f"{where}: format {raw.get('format')!r} is not {FORMAT_VERSION}; prepare it again"
        )
    try:
        tasks = tuple(
            Task(
                name=str(t["name"]),
                queries=_resolve(base, t["queries"], "queries"),
                qrels=_resolve(base, t["qrels"], "qrels"),
                description=str(t.get("description", "")),
                metric=str(t["metric"]),
                query_modality=_modality(t["query_modality"], where, "query_modality"),
                target_modality=_modality(t["target_modality"], where, "target_modality"),
                documents=tuple(_resolve(base, d, "documents") for d in t["documents"]),
                exclude_query_item=bool(t.get("exclude_query_item", False)),
                num_queries=int(t.get("num_queries", 0)),
            )
            for t in raw["tasks"]
        )
        return BenchmarkLayout(
            name=str(raw["name"]),
            root=base,
            documents=tuple(_resolve(base, d, "documents") for d in raw["documents"]),
            tasks=tasks,
            description=str(raw.get("description", "")),
            params=dict(raw.get("params", {})),
            counts={str(k): int(v) for k, v in dict(raw.get("counts", {})).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise XmodalError(f"{where}: malformed manifest ({type(exc).__name__}: {exc})") from None


# --- helpers shared by the built-ins ----------------------------------------------------


def write_queries(path: Path, queries: Iterable[tuple[str, str]]) -> int:
    """Write ``qid<TAB>query`` lines atomically; returns how many were written."""
    lines: list[str] = []
    seen: set[str] = set()
    for qid, query in queries:
        if not qid or any(c.isspace() for c in qid) or qid in seen:
            raise XmodalError(f"bad or repeated query id {qid!r}")
        # A tab or newline inside the text would break the line format.
        text = " ".join(query.split())
        if not text:
            raise XmodalError(f"query {qid!r} is empty")
        seen.add(qid)
        lines.append(f"{qid}\t{text}\n")
    atomic_write_text(path, "".join(lines))
    return len(lines)


def write_task(
    root: Path,
    name: str,
    queries: list[tuple[str, str]],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    description: str,
    metric: str,
    query_modality: Modality,
    target_modality: Modality,
    documents: tuple[Path, ...] | None = None,
) -> Task:
    """Write ``queries/NAME.tsv`` and ``qrels/NAME.qrels`` under ``root``; returns the task.

    ``documents`` defaults to the benchmark's ``images/`` or ``texts/`` folder, whichever
    holds the target modality. Image queries get ``exclude_query_item``: their picture is
    in the collection too.
    """
    missing = [qid for qid, _ in queries if not qrels.get(qid)]
    if missing:
        raise XmodalError(f"task {name}: queries without a relevant document: {missing[:5]}")
    queries_path = root / "queries" / f"{name}.tsv"
    qrels_path = root / "qrels" / f"{name}.qrels"
    queries_path.parent.mkdir(exist_ok=True)
    qrels_path.parent.mkdir(exist_ok=True)
    write_queries(queries_path, queries)
    write_qrels(qrels_path, qrels)
    return Task(
        name=name,
        queries=queries_path,
        qrels=qrels_path,
        description=description,
        metric=metric,
        query_modality=query_modality,
        target_modality=target_modality,
        documents=documents if documents is not None else (root / f"{target_modality}s",),
        exclude_query_item=query_modality == "image",
        num_queries=len(queries),
    )


def image_query(relpath: str) -> str:
    """The query text of an image query for a path relative to the benchmark root."""
    return IMAGE_QUERY_PREFIX + relpath


class Staging:
    """Build a benchmark in a sibling folder and swap it in whole when done.

    A half-written benchmark must never look finished, and files left by an earlier
    preparation with other parameters must not end up indexed beside the new ones. A
    non-empty folder that holds no manifest is someone else's and is never replaced.
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out).expanduser().absolute()
        if self.out.exists():
            if not self.out.is_dir():
                raise XmodalError(f"{self.out} exists and is not a folder")
            if any(self.out.iterdir()) and not (self.out / MANIFEST).is_file():
                raise XmodalError(
                    f"{self.out} is not empty and holds no {MANIFEST}; refusing to replace it"
                )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.dir = self.out.parent / f".{self.out.name}.preparing-{secrets.token_hex(4)}"
        self.dir.mkdir()

    def __enter__(self) -> Path:
        return self.dir

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def commit(self) -> None:
        old: Path | None = None
        if self.out.exists():
            old = self.out.parent / f".{self.out.name}.old-{secrets.token_hex(4)}"
            os.replace(self.out, old)
        os.replace(self.dir, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


__all__ = [
    "FORMAT_VERSION",
    "IMAGE_QUERY_PREFIX",
    "MANIFEST",
    "BenchmarkLayout",
    "Modality",
    "PrepareFn",
    "Staging",
    "Task",
    "atomic_write_text",
    "benchmark_names",
    "get_benchmark",
    "image_query",
    "layout_to_json",
    "load_layout",
    "register_benchmark",
    "write_manifest",
    "write_queries",
    "write_task",
]
