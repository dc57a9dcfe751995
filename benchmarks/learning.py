"""Every learning method on the OpenMoji concept split, measured the same way.

Each method trains on the train split (validation split for early stopping), then its model
indexes the test split's drawings as the ``trained:DIR`` encoder of a real collection and
answers the benchmark's queries: text->image and image->text recall@1/5/10 and MRR, and
category mAP, each with a bootstrap 95% interval over queries. The same models also run on
the test concepts drawn in other styles (``xmodal bench prepare emoji-styles``), which
they never saw. Training time and weight size are recorded per method.

``--fusion`` adds the fusion study: the item side has pixels and, for a share of the items,
attached text (the tags); early fusion models (concat, weighted sum, attention) against
late fusion (weighted sum and RRF of a pixel run and a text run, weights fitted on the
validation split), at 100%, 50% and 0% of items carrying text. ``--balance`` trains one
method with and without the category-balanced sampler.

    python benchmarks/learning.py --data ~/bench/om --styles ~/bench/twemoji ~/bench/omblack \
        --out ~/bench/learning --fusion --balance --extra emoji-small

``--data`` holds ``train``, ``val`` and ``test`` prepared by ``xmodal bench prepare openmoji
--split ...``. Results: ``OUT/results.json``, ``OUT/table.md``, ``OUT/recall.png`` and an HTML
report of the text->image runs in ``OUT/report/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.collection import Collection
from xmodal.eval.bench import index_benchmark, random_baseline, run_tasks
from xmodal.eval.benchmarks import BenchmarkLayout, load_layout
from xmodal.eval.metrics import EvalResult, evaluate
from xmodal.eval.stats import bootstrap_ci
from xmodal.eval.trec import Qrels, Run, read_qrels
from xmodal.learn.train import TrainConfig, train

#: (row name, method, overrides); image features from --image-encoder unless the method reads
#: pixels, text from --text-encoder
METHODS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("heads-infonce", "heads-infonce", {}),
    ("heads-triplet (semi-hard)", "heads-triplet", {"mining": "semi-hard"}),
    ("heads-triplet (batch-hard)", "heads-triplet", {"mining": "batch-hard"}),
    ("cnn-infonce", "cnn-infonce", {"image_size": 64}),
    ("cnn-triplet", "cnn-triplet", {"image_size": 64}),
    ("cca", "cca", {}),
    ("pls", "pls", {}),
    ("svd", "svd", {}),
    ("nmf", "nmf", {}),
    ("pca", "pca", {}),
    ("lda", "lda", {"dim": 11}),  # at most one axis fewer than the 12 OpenMoji groups
)
TASKS = ("t2i", "i2t", "category")
IMAGE_ONLY = ("pca", "lda")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").replace("--", "-")


REPORTED = ("recall@1", "recall@5", "recall@10", "mrr", "map")


@dataclass
class Row:
    name: str
    method: str
    train_s: float | None = None
    size_bytes: int | None = None
    #: benchmark label -> task -> metric -> (mean, low, high)
    scores: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    notes: str = ""
    #: text->image runs by benchmark label, for rows made by fusing others' runs
    runs: dict[str, Run] = field(default_factory=dict)


def _ci(result: EvalResult, metric: str) -> list[float]:
    values = [pq[metric] for pq in result.per_query.values() if metric in pq]
    est, lo, hi = bootstrap_ci(values, n_resamples=2000, seed=0)
    return [round(est, 4), round(lo, 4), round(hi, 4)]


def _summarise(results: Mapping[str, EvalResult]) -> dict[str, dict[str, list[float]]]:
    return {task: {m: _ci(r, m) for m in REPORTED} for task, r in results.items()}


def _path_run(run: Run, paths: Mapping[str, str]) -> Run:
    return {q: {paths.get(d, d): s for d, s in docs.items()} for q, docs in run.items()}


def evaluate_model(
    model: str, layouts: Mapping[str, BenchmarkLayout], work: Path, tasks: Sequence[str]
) -> tuple[dict[str, dict[str, EvalResult]], dict[str, dict[str, Run]]]:
    """Index each benchmark with ``model`` in a fresh collection and run its tasks; runs come
    back with documents named by path relative to the benchmark, so runs of different
    collections compare."""
    results: dict[str, dict[str, EvalResult]] = {}
    runs: dict[str, dict[str, Run]] = {}
    for label, layout in layouts.items():
        db = Path(tempfile.mkdtemp(dir=work, prefix="db-"))
        with Collection.open(db) as col:
            index_benchmark(col, layout, models=[model])
            have = [t.name for t in layout.tasks if t.name in tasks]
            done = run_tasks(col, layout, tasks=have, model=model)
            paths = {i: os.path.relpath(p, layout.root) for p, i in col.ids().items()}
        results[label] = {t: r.eval.result for t, r in done.items()}
        runs[label] = {t: _path_run(r.eval.run, paths) for t, r in done.items()}
    return results, runs


def _train(
    name: str, method: str, over: Mapping[str, Any], args: argparse.Namespace, out: Path
) -> tuple[Path, float]:
    cfg: dict[str, Any] = {
        "train_data": str(args.data / "train"),
        "val_data": str(args.data / "val"),
        "out": str(out),
        "method": method,
        "image_encoder": args.image_encoder,
        "text_encoder": args.text_encoder,
        "epochs": args.cnn_epochs if method.startswith("cnn-") else args.epochs,
        "patience": args.patience,
        "progress": not args.quiet,
        "command": f"benchmarks/learning.py row {name!r}",
    }
    cfg.update(over)
    if (out / "config.json").is_file() and args.reuse:
        body = json.loads((out / "config.json").read_text())
        return out, float(body.get("training", {}).get("seconds", float("nan")))
    started = time.monotonic()
    train(TrainConfig.from_json(cfg))
    seconds = time.monotonic() - started
    body = json.loads((out / "config.json").read_text())
    body.setdefault("training", {})["seconds"] = round(seconds, 1)
    (out / "config.json").write_text(json.dumps(body, indent=2) + "\n")
    return out, seconds


def _embedding_runs(
    img: np.ndarray, txt: np.ndarray, qids: Sequence[str], docs: Sequence[str], depth: int = 100
) -> Run:
    scores = txt @ img.T
    top = np.argsort(-scores, axis=1)[:, :depth]
    return {q: {docs[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(qids)}


def late_pixel_fusion(
    args: argparse.Namespace,
    layouts: Mapping[str, BenchmarkLayout],
    work: Path,
    pixel_runs: Mapping[str, tuple[str, dict[str, Run]]],
    a: str,
    b: str,
) -> list[Row]:
    """Two pixel spaces fused at search time (as a collection searching both spaces does),
    the weight fitted on the validation split's text->image queries."""
    from xmodal.learn.late_fusion import fit_weights, fuse_runs

    val = {"val": load_layout(args.data / "val")}
    val_runs = {
        n: evaluate_model(pixel_runs[n][0], val, work, ("t2i",))[1]["val"]["t2i"] for n in (a, b)
    }
    qrels_val = read_qrels(_t2i_qrels(val["val"]))
    out: list[Row] = []
    for method in ("weighted", "rrf"):
        w, _ = fit_weights(val_runs, qrels_val, method)  # type: ignore[arg-type]
        row = Row(f"late {method} fusion: {a} + {b} (w={w[a]:.2f})", f"late-{method}")
        for label, run_a in pixel_runs[a][1].items():
            run = fuse_runs({a: run_a, b: pixel_runs[b][1][label]}, w, method)  # type: ignore[arg-type]
            row.runs[label] = run
            qrels = read_qrels(_t2i_qrels(layouts[label]))
            row.scores[label] = {"t2i": {m: _ci(evaluate(qrels, run), m) for m in REPORTED}}
        out.append(row)
    return out


def _t2i_qrels(layout: BenchmarkLayout) -> Path:
    return next(t for t in layout.tasks if t.name == "t2i").qrels


def fusion_study(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Early fusion models against late fusion of a pixel run and an attached-text run."""
    from xmodal.encoders.registry import get_encoder
    from xmodal.learn.data import attached_texts, image_features, load_openmoji, text_features
    from xmodal.learn.encoder import load_model
    from xmodal.learn.late_fusion import fit_weights, fuse_runs

    splits = {s: load_openmoji(args.data / s) for s in ("val", "test")}
    te = get_encoder(args.text_encoder)
    ie = get_encoder(args.image_encoder)
    cache = out / "cache"
    pixel_model = load_model(out / "models" / "heads-infonce")
    early = {
        k: _train(f"fusion-{k}", f"fusion-{k}", {}, args, out / "models" / f"fusion-{k}")
        for k in ("concat", "sum", "attention")
    }
    models = {k: load_model(path) for k, (path, _) in early.items()}

    @dataclass
    class Split:
        x: np.ndarray
        q: np.ndarray  # query features, one row per concept
        tags: np.ndarray  # attached-text features of every item that has tags
        has_tags: np.ndarray
        qids: list[str]
        docs: list[str]
        qrels: Qrels
        pixels: Run

    prep: dict[str, Split] = {}
    for split, data in splits.items():
        tags = attached_texts(data)
        x = image_features(data, ie, cache)
        concepts = data.concept_ids()
        first = {int(c): n for n, c in reversed(list(enumerate(concepts.tolist())))}
        qrows = sorted(first.values())
        qids = [f"q{r}" for r in qrows]
        docs = [f"d{n}" for n in range(len(data))]
        qrels: Qrels = {
            f"q{r}": {f"d{j}": 1 for j in np.flatnonzero(concepts == concepts[r])} for r in qrows
        }
        q = text_features(data, te, cache, "query")[qrows]
        pixels = _embedding_runs(
            pixel_model.embed_image_features(x), pixel_model.embed_text_features(q), qids, docs
        )
        prep[split] = Split(
            x, q, te.encode_texts([t or " " for t in tags], role="passage"),
            np.array([bool(t) for t in tags]), qids, docs, qrels, pixels,
        )  # fmt: skip

    rng = np.random.default_rng(0)
    result: dict[str, Any] = {"train_s": {k: round(v[1], 1) for k, v in early.items()}}
    for share in (1.0, 0.5, 0.0):
        rows: dict[str, dict[str, list[float]]] = {}
        prepared: dict[str, tuple[Run, Run, Qrels, dict[str, Run]]] = {}
        for split, sp in prep.items():
            has = sp.has_tags & (rng.random(len(sp.x)) < share)
            a = sp.tags * has[:, None]
            # items without attached text cannot be found by text: they drop out of that run
            text_run = {
                qid: {d: v for d, v in r.items() if has[int(d[1:])]}
                for qid, r in _embedding_runs(a, sp.q, sp.qids, sp.docs).items()
            }
            fused_early = {
                k: _embedding_runs(
                    m.embed_fused_features(sp.x, a), m.embed_text_features(sp.q), sp.qids, sp.docs
                )
                for k, m in models.items()
            }
            prepared[split] = (sp.pixels, text_run, sp.qrels, fused_early)
        pix_t, text_t, qrels_t, early_t = prepared["test"]
        pix_v, text_v, qrels_v, _ = prepared["val"]

        def score(run: Run, qrels: Qrels = qrels_t) -> list[float]:
            return _ci(evaluate(qrels, run, (1, 5, 10)), "recall@10")

        rows["pixels only (heads-infonce)"] = score(pix_t)
        rows["attached text only (e5 tags)"] = score(text_t)
        for method in ("weighted", "rrf"):
            runs_v = {"pixels": pix_v, "text": text_v}
            w, _ = fit_weights(runs_v, qrels_v, method)  # type: ignore[arg-type]
            fused = fuse_runs({"pixels": pix_t, "text": text_t}, w, method)  # type: ignore[arg-type]
            rows[f"late {method} (w_pixels={w['pixels']:.2f})"] = score(fused)
        for k, run in early_t.items():
            rows[f"early {k}"] = score(run)
        result[f"text on {int(share * 100)}% of items"] = rows
    return result


def balance_study(args: argparse.Namespace, out: Path, layouts: Mapping[str, Any]) -> dict:
    rows: dict[str, Any] = {}
    for on in (False, True):
        name = f"heads-infonce balance={on}"
        path, _ = _train(
            name, "heads-infonce", {"balance": on}, args, out / "models" / f"balance-{on}"
        )
        res, _ = evaluate_model(f"trained:{path}", {"test": layouts["test"]}, out, TASKS)
        test = res["test"]
        rows[name] = {
            "t2i recall@10": _ci(test["t2i"], "recall@10"),
            "category map": _ci(test["category"], "map"),
            "per-group t2i recall@10": _per_group(args, test["t2i"]),
        }
    return rows


def _per_group(args: argparse.Namespace, result: EvalResult) -> dict[str, float]:
    """Mean t2i recall@10 per OpenMoji group of the query's concept."""
    items = json.loads((args.data / "test" / "items.json").read_text())
    by_text: dict[str, str] = {}
    for it in items:
        by_text.setdefault(" ".join(it["annotation"].casefold().split()), it["group"])
    queries = {}
    for line in (args.data / "test" / "queries" / "t2i.tsv").read_text().splitlines():
        qid, _, text = line.partition("\t")
        queries[qid] = by_text.get(" ".join(text.casefold().split()), "?")
    groups: dict[str, list[float]] = {}
    for qid, pq in result.per_query.items():
        groups.setdefault(queries.get(qid, "?"), []).append(pq["recall@10"])
    return {g: round(float(np.mean(v)), 4) for g, v in sorted(groups.items())}


def _fmt(ci: Sequence[float] | None, wide: bool = False) -> str:
    if not ci:
        return "–"
    return f"{ci[0]:.3f} [{ci[1]:.3f}, {ci[2]:.3f}]" if wide else f"{ci[0]:.3f}"


def table(rows: Sequence[Row], styles: Sequence[str]) -> str:
    head = (
        "| method | train s | size | t2i R@1 | t2i R@5 | t2i R@10 [95% CI] | t2i MRR "
        "| i2t R@1 | i2t R@10 | category mAP [95% CI] |"
        + "".join(f" {s} t2i R@10 [95% CI] |" for s in styles)
    )
    lines = [head, "|" + "---|" * (10 + len(styles))]
    for r in rows:
        t = r.scores.get("test", {})
        t2i, i2t, cat = t.get("t2i", {}), t.get("i2t", {}), t.get("category", {})
        size = f"{r.size_bytes / 1e6:.2f} MB" if r.size_bytes else "–"
        secs = f"{r.train_s:.0f}" if r.train_s is not None else "–"
        cells = [
            r.name,
            secs,
            size,
            _fmt(t2i.get("recall@1")),
            _fmt(t2i.get("recall@5")),
            _fmt(t2i.get("recall@10"), True),
            _fmt(t2i.get("mrr")),
            _fmt(i2t.get("recall@1")),
            _fmt(i2t.get("recall@10")),
            _fmt(cat.get("map"), True),
        ] + [_fmt(r.scores.get(s, {}).get("t2i", {}).get("recall@10"), True) for s in styles]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: Sequence[Row], labels: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r.scores.get("test", {}).get("t2i")]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(shown) * len(labels) + 1.5))
    height = 0.8 / len(labels)
    for k, label in enumerate(labels):
        ys, xs, err = [], [], []
        for n, r in enumerate(shown):
            ci = r.scores.get(label, {}).get("t2i", {}).get("recall@10")
            if ci:
                ys.append(n + k * height)
                xs.append(ci[0])
                err.append([ci[0] - ci[1], ci[2] - ci[0]])
        if xs:
            ax.barh(ys, xs, height, xerr=np.array(err).T, label=label, capsize=2)
    ax.set_yticks([n + 0.4 - height / 2 for n in range(len(shown))], [r.name for r in shown])
    ax.invert_yaxis()
    ax.set_xlabel("text -> image recall@10 (95% bootstrap interval)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="folder with train/ val/ test/")
    ap.add_argument("--styles", type=Path, nargs="*", default=[], help="emoji-styles benchmarks")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--methods", nargs="*", help="row names to run (default: all)")
    ap.add_argument("--extra", nargs="*", default=[], help="ready models to evaluate too")
    ap.add_argument("--image-encoder", default="classic")
    ap.add_argument("--text-encoder", default="e5-multilingual")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--cnn-epochs", type=int, default=60)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--fusion", action="store_true")
    ap.add_argument("--balance", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="reuse trained model folders in OUT")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    out: Path = args.out
    (out / "models").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out, prefix="work-"))
    layouts = {"test": load_layout(args.data / "test")}
    for s in args.styles:
        layouts[json.loads((s / "benchmark.json").read_text())["params"]["style"]] = load_layout(s)
    styles = [k for k in layouts if k != "test"]
    rows: list[Row] = []
    t2i_runs: dict[str, Run] = {}
    #: row name -> (model name, benchmark label -> t2i run), for late fusion of pixel spaces
    pixel_runs: dict[str, tuple[str, dict[str, Run]]] = {}

    chance = Row("chance (random ranking)", "random")
    for label, layout in layouts.items():
        chance.scores[label] = _summarise(random_baseline(layout, tasks=TASKS))
    rows.append(chance)
    classic = Row(f"{args.image_encoder} (untrained)", "untrained", notes="no text side")
    res, _ = evaluate_model(args.image_encoder, layouts, work, ("category",))
    classic.scores = {k: _summarise(v) for k, v in res.items()}
    rows.append(classic)

    for name, method, over in METHODS:
        if args.methods and name not in args.methods and method not in args.methods:
            continue
        print(f"== {name}", file=sys.stderr)
        path, secs = _train(name, method, over, args, out / "models" / _slug(name))
        row = Row(name, method, secs, (path / "model.safetensors").stat().st_size)
        tasks = ("category",) if method in IMAGE_ONLY else TASKS
        res, runs = evaluate_model(f"trained:{path}", layouts, work, tasks)
        row.scores = {k: _summarise(v) for k, v in res.items()}
        if "t2i" in runs["test"]:
            t2i_runs[name] = runs["test"]["t2i"]
            pixel_runs[name] = (f"trained:{path}", {k: v["t2i"] for k, v in runs.items()})
        rows.append(row)
        _write(out, rows, styles, {})

    for name in args.extra:
        print(f"== {name}", file=sys.stderr)
        from xmodal.learn.encoder import SHIPPED_DIR

        folder = SHIPPED_DIR / name
        cfg = json.loads((folder / "config.json").read_text())
        row = Row(
            name,
            cfg.get("method", "?"),
            cfg.get("training", {}).get("seconds"),
            (folder / "model.safetensors").stat().st_size,
            notes="shipped",
        )
        res, runs = evaluate_model(name, layouts, work, TASKS)
        row.scores = {k: _summarise(v) for k, v in res.items()}
        t2i_runs[name] = runs["test"]["t2i"]
        pixel_runs[name] = (name, {k: v["t2i"] for k, v in runs.items()})
        rows.append(row)
        if "heads-infonce" in pixel_runs:
            for fused in late_pixel_fusion(args, layouts, work, pixel_runs, name, "heads-infonce"):
                rows.append(fused)
                t2i_runs[fused.name] = fused.runs["test"]

    extra: dict[str, Any] = {}
    if args.fusion:
        extra["fusion"] = fusion_study(args, out)
    if args.balance:
        extra["balance"] = balance_study(args, out, layouts)
    _write(out, rows, styles, extra)
    plot(rows, list(layouts), out / "recall.png")
    if t2i_runs:
        _report(layouts["test"], t2i_runs, out / "report")
    print((out / "table.md").read_text())
    return 0


def _report(layout: BenchmarkLayout, runs: Mapping[str, Run], out_dir: Path) -> None:
    from xmodal.eval.report import RunReport, write_report

    task = next(t for t in layout.tasks if t.name == "t2i")
    qrels = read_qrels(task.qrels)
    queries = dict(
        line.split("\t", 1) for line in Path(task.queries).read_text().splitlines() if line
    )
    reports = [
        RunReport(name, qrels, run, evaluate(qrels, run), queries, {}) for name, run in runs.items()
    ]
    write_report(
        out_dir,
        reports,
        title="OpenMoji test split, text -> image, every learning method",
        thumbnails=lambda doc: layout.root / doc,
    )


def _write(out: Path, rows: Sequence[Row], styles: Sequence[str], extra: Mapping[str, Any]):
    data = {
        "rows": [{k: v for k, v in r.__dict__.items() if k != "runs"} for r in rows],
        "styles": list(styles),
        **extra,
    }
    (out / "results.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    text = table(rows, styles) + "\n"
    for key, block in extra.items():
        text += f"\n## {key}\n\n```json\n{json.dumps(block, indent=1, ensure_ascii=False)}\n```\n"
    (out / "table.md").write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
