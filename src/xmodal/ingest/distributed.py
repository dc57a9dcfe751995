"""Index runs on a Ray cluster: files decoded and embedded by Ray workers, written here.

The run is planned as a local one is (``pipeline._IndexRun``: walk, unchanged files left
alone, moved content found by hash). The files to do are cut into partitions; each partition
is one Ray task that decodes its files and embeds them with the same ``prepare`` and
``encode_batch`` the local pipeline uses, and hands back what the store is to hold. This
process is the only writer: it takes partitions as they finish and commits them in batches
through the pipeline's commit path, so the store sees what a local run would have written.

A worker that dies costs its partition only: Ray runs the task again (``MAX_RETRIES``), and
nothing of it was committed. A run that dies here keeps what it committed; the same command
again does the rest. The workers read the files by the paths found here, so on a cluster the
files must be on a filesystem every node sees, and xmodal installed on every node.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xmodal.encoders.base import Encoder, TextExtractor
from xmodal.errors import UsageError
from xmodal.ingest.commits import DEFAULT_COMMIT_EVERY, Clock
from xmodal.ingest.encode import TextCache, encode_batch, writer_for
from xmodal.ingest.pipeline import IndexOptions, Job, _IndexRun, decode_limits, run_sizes
from xmodal.ingest.prepare import Failed, PixelPreparer, Prepared, SameContent, prepare
from xmodal.media.limits import DecodeLimits
from xmodal.media.walk import FileRef
from xmodal.progress import ProgressFactory
from xmodal.records import IndexReport, Modality
from xmodal.store.sqlite import NewItem, Store

MISSING = "distributed indexing needs the ray extra: pip install 'xmodal[ray]'"
LOCAL = "local"
#: a partition is at most this many files: what a worker's death costs, and the grain that
#: spreads the work over the cluster
PARTITION_FILES = 256
#: partitions per worker CPU, so a slow partition does not leave the others idle at the end
PARTITIONS_PER_CPU = 4
#: times Ray runs a partition again after its worker died
MAX_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Partition:
    """What a worker needs to decode and embed its files."""

    #: (file, its stored hash when unchanged content may be skipped, its stored item id)
    jobs: list[tuple[FileRef, str | None, str | None]]
    #: content hash -> item id of stored items whose path vanished in this run
    vanished: Mapping[str, str]
    names: tuple[str, ...]
    limits: DecodeLimits
    batch: int


Outcome = NewItem | SameContent | Failed


def embed_partition(part: Partition) -> list[Outcome]:
    """Decode and embed one partition's files (runs in a Ray worker); one outcome per job."""
    # the built-in encoders are registered by the package itself (xmodal/__init__ loads the
    # catalogue), which a Ray worker imports before this module
    from xmodal.encoders.registry import get_encoder, get_extractor, is_extractor

    encoders = [get_encoder(n) for n in part.names if not is_extractor(n)]
    extractors = [get_extractor(n) for n in part.names if is_extractor(n)]
    spaces = [(e, writer_for(e)) for e in encoders]
    preparers = [e for e in encoders if e.accepts(Modality.IMAGE) and isinstance(e, PixelPreparer)]
    out: list[Outcome | None] = [None] * len(part.jobs)
    batch: list[tuple[int, Prepared]] = []

    def encode() -> None:
        items = encode_batch([p for _, p in batch], spaces, extractors, TextCache(None))
        for (n, _), item in zip(batch, items, strict=True):
            out[n] = item
        batch.clear()

    for n, (ref, known_hash, item_id) in enumerate(part.jobs):
        result = prepare(ref, part.limits, known_hash, item_id, part.vanished, preparers)
        if isinstance(result, Prepared):
            batch.append((n, result))
            if len(batch) >= part.batch:
                encode()
        else:
            out[n] = result
    if batch:
        encode()
    assert all(o is not None for o in out), "every file has an outcome"
    return [o for o in out if o is not None]


PartitionTask = Callable[[Partition], list[Outcome]]


def _connect(address: str, cpus: int) -> bool:
    """Join the cluster at ``address`` (or start one here for ``local``); True if started."""
    try:
        import ray
    except ImportError:
        raise UsageError(MISSING) from None
    if ray.is_initialized():
        return False
    if address == LOCAL:
        ray.init(num_cpus=cpus or None, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return True


def partitions(
    run: _IndexRun, todo: Sequence[Job], names: tuple[str, ...], cpus: int, batch: int
) -> list[Partition]:
    size = max(1, min(PARTITION_FILES, math.ceil(len(todo) / (PARTITIONS_PER_CPU * cpus))))
    parts = []
    for start in range(0, len(todo), size):
        jobs = []
        for ref, s in todo[start : start + size]:
            same_ok = s is not None and run.wanted <= s.encoded
            jobs.append(
                (ref, s.item.content_hash if (s and same_ok) else None, s.item.id if s else None)
            )
        parts.append(Partition(jobs, run.vanished_by_hash, names, run.limits, batch))
    return parts


def _take(run: _IndexRun, jobs: Sequence[Job], outcomes: Sequence[Outcome], batch: int) -> None:
    """One finished partition, as the local pipeline takes its files."""
    for job, outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, NewItem):
            run.commits.items.append((outcome, job[1] is not None))
            if run.bar:
                run.bar.update(1)
        else:
            run.take(job, outcome)  # a moved or unreadable file; a second copy encodes here
            if run.full(batch):
                run.encode()
        if run.commits.due():
            run.commits.commit()


def _drive(
    run: _IndexRun, todo: Sequence[Job], parts: Sequence[Partition], task: PartitionTask
) -> None:
    import ray

    remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(task)
    pending: dict[Any, int] = {}
    offset = 0
    for part in parts:
        pending[remote.remote(part)] = offset
        offset += len(part.jobs)
    batch = parts[0].batch if parts else 1
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        start = pending.pop(done[0])
        outcomes: list[Outcome] = ray.get(done[0])
        _take(run, todo[start : start + len(outcomes)], outcomes, batch)
    run.flush()


def run_index_ray(
    store: Store,
    roots: Sequence[str],
    encoders: Sequence[Encoder],
    options: IndexOptions | None = None,
    progress: ProgressFactory | None = None,
    extractors: Sequence[TextExtractor] = (),
    *,
    address: str = LOCAL,
    commit_every: float = DEFAULT_COMMIT_EVERY,
    clock: Clock | None = None,
    task: PartitionTask = embed_partition,
) -> IndexReport:
    """``run_index`` with the decoding and embedding done by Ray workers at ``address``
    (``local`` starts a cluster of ``options.workers`` CPUs here, all CPUs by default; a
    process that already called ``ray.init`` uses its cluster). ``task`` embeds one
    partition (``embed_partition``; a test passes one that fails on purpose)."""
    options = options or IndexOptions()
    if options.workers < 0 or options.batch_size < 0:
        raise UsageError("workers and batch size must be 0 (automatic) or positive")
    started = _connect(address, options.workers)
    import ray

    try:
        limits = decode_limits(options.limits, encoders, extractors)
        run = _IndexRun(store, encoders, extractors, limits, commit_every, clock)
        todo = run.plan([os.path.abspath(r) for r in roots], options)
        names = tuple(e.name for e in encoders) + tuple(e.name for e in extractors)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        batch = run_sizes(options, encoders, limits, extractors).batch
        parts = partitions(run, todo, names, cpus, batch)
        return run.complete(todo, progress, lambda: _drive(run, todo, parts, task))
    finally:
        if started:
            ray.shutdown()
