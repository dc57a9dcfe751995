"""emoji-small in English and Chinese, on a drawing style it never trained on and on the
OpenMoji concept split; one or more models side by side, with bootstrap intervals.

Measures, for each model directory given:

- held-out style (default Fluent Emoji Flat, ``@iconify-json/fluent-emoji-flat``): every base
  OpenMoji emoji the style draws is in the gallery; each emoji's English name (OpenMoji's
  caption) and its Chinese name (CLDR's, from ``emojibase-data``) is a query, identical
  names merged into one query whose relevant drawings are all those they name; text→image
  recall@10, over all emojis and over the test-split concepts alone;
- OpenMoji colour drawings of the test split (the concept split's own t2i task: English
  captions; and the same drawings found by their Chinese names);
- the cross-lingual pull of the text tower: the mean cosine between each emoji's Chinese
  name and its English name in the joint space, and how often the English name's nearest
  Chinese name (among all emojis') is its own translation;
- a paired test of each model against the first on every query set.

    PYTHONPATH=src python benchmarks/emoji_small.py --splits om \\
        src/xmodal/models/emoji-small emoji-small-new --out bench-out/emoji_small.json \\
        --plot bench-out/emoji_small.png

``--splits`` is a folder holding ``xmodal bench prepare openmoji --split test --out
DIR/test``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_facts, md_table, write_json
from xmodal.datasets import emoji_names, emoji_styles
from xmodal.datasets import openmoji as om
from xmodal.encoders.registry import get_encoder
from xmodal.eval.benchmarks.openmoji import concepts, split_concepts
from xmodal.eval.stats import bootstrap_ci, paired_test
from xmodal.learn.data import read_image
from xmodal.learn.encoder import load_model
from xmodal.paths import cache_dir

K = 10


@dataclass
class QuerySet:
    """Queries (texts) and, for each, the gallery rows that answer it."""

    name: str
    texts: list[str]
    relevant: list[set[int]]


def merged(name: str, labels: Sequence[str | None], keep: Sequence[bool]) -> QuerySet:
    """One query per distinct label among the kept rows, answered by every row it labels."""
    rows: dict[str, tuple[str, set[int]]] = {}
    for n, (label, ok) in enumerate(zip(labels, keep, strict=True)):
        if not label or not ok:
            continue
        rows.setdefault(" ".join(label.casefold().split()), (label, set()))[1].add(n)
    return QuerySet(name, [t for t, _ in rows.values()], [r for _, r in rows.values()])


def hits_at_k(img: np.ndarray, txt: np.ndarray, relevant: Sequence[set[int]]) -> np.ndarray:
    """1.0 where a relevant drawing is among the query's ``K`` nearest, else 0.0."""
    top = np.argsort(-(txt @ img.T), axis=1)[:, :K]
    return np.array(
        [float(bool(rel & set(row.tolist()))) for row, rel in zip(top, relevant, strict=True)]
    )


def cross_lingual(model: Any, y_en: np.ndarray, y_zh: np.ndarray) -> dict[str, Any]:
    """Mean cosine of each Chinese name with its English name in the joint space, and the
    rate at which an English name's nearest Chinese name is its own translation."""
    en, zh = model.embed_text_features(y_en), model.embed_text_features(y_zh)
    cos = np.sum(en * zh, axis=1)
    nearest = np.argmax(en @ zh.T, axis=1) == np.arange(len(en))
    mean, lo, hi = bootstrap_ci(cos)
    acc, alo, ahi = bootstrap_ci(nearest.astype(float))
    return {
        "pairs": len(en),
        "mean_cosine": mean,
        "cosine_ci": [lo, hi],
        "en_to_zh_top1": acc,
        "top1_ci": [alo, ahi],
    }


def _e5_features(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """e5-multilingual query features of ``texts``, through the training feature cache (the
    frozen tower is the same for every model compared)."""
    from xmodal.learn.data import PairedData, text_features

    data = PairedData(
        (Path(),) * len(texts), tuple(texts), ("",) * len(texts), tuple(texts), tuple(texts)
    )
    x = text_features(data, get_encoder("e5-multilingual"), cache_dir() / "features")
    return dict(zip(texts, x, strict=True))


def _pictures(paths: Sequence[Path]) -> list[Any]:
    return [read_image(p) for p in paths]


def _style_gallery(style: str, emojis: Sequence[om.Emoji]) -> list[om.Drawing]:
    out = cache_dir() / "heldout" / style / "96"
    return emoji_styles.render_style(style, emojis, out, 96)


def _query_sets(
    prefix: str, emojis: Sequence[om.Emoji], zh: dict[str, emoji_names.Names], test: set[str]
) -> list[QuerySet]:
    en_names = [e.annotation for e in emojis]
    zh_names = [zh[e.hexcode].annotation if e.hexcode in zh else None for e in emojis]
    everyone = [True] * len(emojis)
    in_test = [e.hexcode in test for e in emojis]
    return [
        merged(f"{prefix} all, English", en_names, everyone),
        merged(f"{prefix} all, Chinese", zh_names, everyone),
        merged(f"{prefix} test concepts, English", en_names, in_test),
        merged(f"{prefix} test concepts, Chinese", zh_names, in_test),
    ]


def _om_test(splits: Path, zh: dict[str, emoji_names.Names]) -> tuple[list[Path], list[QuerySet]]:
    items = json.loads((splits / "test" / "items.json").read_text(encoding="utf-8"))
    base = [it for it in items if it["hexcode"] == it["base_hexcode"]]
    paths = [splits / "test" / it["image"] for it in base]
    en = [str(it["annotation"]) for it in base]
    cn = [zh[it["hexcode"]].annotation if it["hexcode"] in zh else None for it in base]
    keep = [True] * len(base)
    return paths, [
        merged("OpenMoji colour test split, English", en, keep),
        merged("OpenMoji colour test split, Chinese", cn, keep),
    ]


def main() -> None:  # long: one straight script, from the data to the table
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="model directories; the first is the baseline")
    ap.add_argument("--splits", type=Path, required=True, help="folder with test/")
    ap.add_argument(
        "--style",
        default="fluent-flat",
        choices=sorted(emoji_styles.STYLES),
        help="drawing style of the gallery (fluent-flat: none of the models trained on it)",
    )
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--plot", type=Path, help="draw recall@10 with intervals here (PNG)")
    a = ap.parse_args()

    source = om.fetch()
    emojis = om.load_emojis(source)
    parts = split_concepts(concepts(om.load_emojis(source, include_skin_tones=True)))
    test = {h for c in parts["test"] for h in c.hexcodes}
    zh = emoji_names.names_for(
        [e.hexcode for e in emojis], emoji_names.load_names(emoji_names.fetch(), "zh")
    )
    drawings = _style_gallery(a.style, emojis)
    drawn = [d.emoji for d in drawings]
    title = emoji_styles.get_style(a.style).title
    sets = [(drawings, q) for q in _query_sets(title, drawn, zh, test)]
    om_paths, om_sets = _om_test(a.splits, zh)

    named = [e for e in emojis if e.hexcode in zh]
    pairs = [(e.annotation, zh[e.hexcode].annotation) for e in named]
    texts = {t for _, q in sets for t in q.texts} | {t for q in om_sets for t in q.texts}
    feats = _e5_features(sorted(texts | {t for pair in pairs for t in pair}))
    y_en = np.stack([feats[en] for en, _ in pairs])
    y_zh = np.stack([feats[cn] for _, cn in pairs])

    style_pics = _pictures([d.path for d in drawings])
    om_pics = _pictures(om_paths)
    results: dict[str, Any] = {"style": a.style, "gallery": len(drawings), "models": {}}
    per_query: dict[str, dict[str, np.ndarray]] = {}
    for path in a.models:
        model = load_model(path)
        img = {"style": model.embed_images(style_pics), "om": model.embed_images(om_pics)}
        rows: dict[str, Any] = {}
        per_query[path] = {}
        for where, q in [("style", q) for _, q in sets] + [("om", q) for q in om_sets]:
            txt = model.embed_text_features(np.stack([feats[t] for t in q.texts]))
            hits = hits_at_k(img[where], txt, q.relevant)
            est, lo, hi = bootstrap_ci(hits)
            rows[q.name] = {"queries": len(q.texts), "r10": est, "ci": [lo, hi]}
            per_query[path][q.name] = hits
        results["models"][path] = {
            "recall@10": rows,
            "cross_lingual": cross_lingual(model, y_en, y_zh),
        }
    base = a.models[0]
    results["paired"] = {
        path: {
            name: asdict(paired_test(per_query[base][name], hits))
            for name, hits in per_query[path].items()
        }
        for path in a.models[1:]
    }
    results["machine"] = machine_facts()
    _print(results, a.models)
    write_json(a.out, results)
    if a.plot is not None:
        _plot(results, a.models, a.plot)


def _print(results: dict[str, Any], models: Sequence[str]) -> None:
    names = list(results["models"][models[0]]["recall@10"])
    table = []
    for name in names:
        row: list[Any] = [name, results["models"][models[0]]["recall@10"][name]["queries"]]
        for m in models:
            r = results["models"][m]["recall@10"][name]
            row.append(f"{r['r10']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]")
        table.append(row)
    for label, key, ci in (
        ("zh↔en name cosine (mean)", "mean_cosine", "cosine_ci"),
        ("English name's nearest Chinese name is its own", "en_to_zh_top1", "top1_ci"),
    ):
        c = [results["models"][m]["cross_lingual"] for m in models]
        cells = [f"{x[key]:.3f} [{x[ci][0]:.3f}, {x[ci][1]:.3f}]" for x in c]
        table.append([label, c[0]["pairs"], *cells])
    print(md_table(["queries", "n", *models], table))


def _plot(results: dict[str, Any], models: Sequence[str], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(results["models"][models[0]]["recall@10"])
    fig = Figure(figsize=(11, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    width = 0.8 / len(models)
    for n, m in enumerate(models):
        rows = [results["models"][m]["recall@10"][q] for q in names]
        est = np.array([r["r10"] for r in rows])
        err = np.array([[r["r10"] - r["ci"][0], r["ci"][1] - r["r10"]] for r in rows]).T
        ax.bar(np.arange(len(names)) + n * width, est, width, yerr=err, capsize=3, label=m)
    ax.set_xticks(np.arange(len(names)) + width * (len(models) - 1) / 2)
    ax.set_xticklabels([q.replace(", ", "\n") for q in names], fontsize=7)
    ax.set_ylabel("text→image recall@10 (95% bootstrap interval)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


if __name__ == "__main__":
    main()
