"""Running labelled queries against a collection: the user's own quality number."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xmodal.collection import Collection
from xmodal.errors import UnembeddableQueryError, UsageError
from xmodal.eval.metrics import DEFAULT_KS, EvalResult, evaluate, normalize_ks
from xmodal.eval.trec import Qrels, Run
from xmodal.progress import ProgressFactory
from xmodal.query.filters import Filters
from xmodal.query.parse import Query, Term

IMAGE_PREFIX = "image:"
DEFAULT_DEPTH = 100


@dataclass(frozen=True, slots=True)
class CollectionEval:
    result: EvalResult
    run: Run
    queries: dict[str, str]


def read_queries(path: str | os.PathLike[str]) -> dict[str, str]:
    """``qid<TAB>query`` lines; ``image:PATH`` is an image query, anything else is text."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        qid, tab, query = line.partition("\t")
        qid = qid.strip()
        if not tab or not qid or not query.strip() or any(c.isspace() for c in qid):
            raise UsageError(f"{path}:{lineno}: expected 'qid<TAB>query'")
        if qid in out:
            raise UsageError(f"{path}:{lineno}: query id {qid!r} appears twice")
        out[qid] = query.strip()
    if not out:
        raise UsageError(f"{path}: no queries")
    return out


def _strictly_decreasing(scores: list[float]) -> list[float]:
    """Nudge tied scores down by one ulp so that trec_eval's tie-break (by docid) cannot
    reorder the ranking the engine actually returned."""
    out: list[float] = []
    for s in scores:
        if out and s >= out[-1]:
            s = math.nextafter(out[-1], -math.inf)
        out.append(s)
    return out


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How labelled queries are searched.

    ``depth`` results per query, from the space ``model`` (every space when None);
    relative image-query paths are read from ``base_dir`` (the working directory when
    None); ``exclude_query_item`` drops an image query's own item from its results;
    ``filters`` restrict the results.
    """

    depth: int = DEFAULT_DEPTH
    model: str | None = None
    base_dir: str | os.PathLike[str] | None = None
    exclude_query_item: bool = False
    filters: Filters | None = None


def run_queries(
    col: Collection,
    queries: Mapping[str, str],
    options: RunOptions | None = None,
    progress: ProgressFactory | None = None,
) -> Run:
    """Each query's results as a TREC run: ``{qid: {item id: score}}``.

    Text is taken literally (no query syntax), so labelled queries mean what they say.
    With ``exclude_query_item`` an image query's own item is dropped from its results
    (category retrieval asks for *other* members of the query's class).
    """
    opts = options or RunOptions()
    depth = opts.depth
    ids = col.ids() if opts.exclude_query_item else {}
    base = Path(opts.base_dir) if opts.base_dir is not None else Path.cwd()
    run: Run = {}
    bar = progress(len(queries)) if progress else None
    for qid, text in queries.items():
        own: str | None = None
        if text.startswith(IMAGE_PREFIX):
            path = Path(os.path.expanduser(text[len(IMAGE_PREFIX) :]))
            path = path if path.is_absolute() else base / path
            own = ids.get(os.path.abspath(path))
            query = Query((Term("image", str(path)),))
        else:
            query = Query((Term("text", text),))
        try:
            hits = col.search(
                query, k=depth + (1 if own else 0), model=opts.model, filters=opts.filters
            )
        except UnembeddableQueryError:
            # the space cannot read this kind of query: it retrieves nothing, scored as such
            hits = []
        kept = [h for h in hits if h.id != own][:depth]
        scores = _strictly_decreasing([h.score for h in kept])
        run[qid] = {h.id: s for h, s in zip(kept, scores, strict=True)}
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return run


def evaluate_collection(
    col: Collection,
    queries: Mapping[str, str],
    qrels: Qrels,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    options: RunOptions | None = None,
    progress: ProgressFactory | None = None,
) -> CollectionEval:
    """Run ``queries`` against ``col`` and score them with ``qrels`` at cutoffs ``ks``."""
    missing = set(qrels) - set(queries)
    if len(missing) == len(qrels):
        raise UsageError("no query in the queries file has judgements in the qrels file")
    run = run_queries(col, queries, options, progress)
    return CollectionEval(evaluate(qrels, run, normalize_ks(ks)), run, dict(queries))


def qrels_by_path(qrels: Qrels, ids: Mapping[str, str], root: str | os.PathLike[str]) -> Qrels:
    """Map qrels whose document ids are paths (relative to ``root``) to item ids."""
    out: Qrels = {}
    for qid, judged in qrels.items():
        mapped: dict[str, int] = {}
        for doc, rel in judged.items():
            path = os.path.abspath(os.path.join(root, doc))
            if path not in ids:
                raise UsageError(f"qrels document {doc!r} is not in the collection")
            mapped[ids[path]] = rel
        out[qid] = mapped
    return out


def report_runs(
    col: Collection,
    evals: Mapping[str, CollectionEval],
    qrels: Qrels,
    out_dir: str | os.PathLike[str],
    *,
    title: str,
    reliability: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Path:
    """An HTML report (plots, confidence intervals, paired tests, hardest queries with
    thumbnails) of one or more runs over the same queries; the first run is the baseline.
    ``reliability`` adds the reliability diagram of calibrated spaces."""
    from xmodal.eval.report import RunReport, write_report
    from xmodal.records import Modality

    items = {item.id: item for item in col}
    labels = {i: it.path for i, it in items.items()}

    def thumb(doc: str) -> Path | None:
        it = items.get(doc)
        return Path(it.path) if it is not None and it.modality is Modality.IMAGE else None

    runs = [
        RunReport(name, qrels, ev.run, ev.result, dict(ev.queries), labels)
        for name, ev in evals.items()
    ]
    return write_report(
        Path(out_dir), runs, title=title, thumbnails=thumb, reliability=reliability
    )
