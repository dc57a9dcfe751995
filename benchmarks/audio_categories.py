"""Category mAP on Sonic Pi's CC0 samples (npm ``supersonic-scsynth-samples``, pinned and
checksummed, fetched into the cache): audio→audio with ``audio-classic`` (each sample queries
the other 205) and text→audio through a head trained with ``xmodal train`` on
(recording, category words) pairs, scored on test files no training step saw; both against a
random ranking, with bootstrap intervals, and a per-category plot.

    nice -n 10 python benchmarks/audio_categories.py --splits 3 \\
        --plot docs/img/audio-categories.png --json out.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from _common import facts_markdown, machine_facts, md_table, write_json

TRAIN_OPTIONS = ("--epochs", "60", "--dim", "64", "--batch-size", "32", "--patience", "10")


def _rows(result: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for key, name in (("audio_to_audio", "audio → audio"), ("text_to_audio", "text → audio")):
        r = result[key]
        rows.append([
            name, r["queries"], f"{r['map']:.3f} ({r['map_ci95'][0]:.3f}-{r['map_ci95'][1]:.3f})",
            f"{r['chance_map']:.3f}",
            f"{r['gain_over_chance']:+.3f} ({r['gain_ci95'][0]:+.3f}-{r['gain_ci95'][1]:+.3f})",
            f"{r['gain_p_sign_flip']:.2g}",
        ])  # fmt: skip
    return rows


def main() -> None:
    from xmodal.datasets import supersonic
    from xmodal.eval.audio_categories import plot_categories, run_categories
    from xmodal.progress import progress_bar

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--splits", type=int, default=3, help="train/test splits (seeds 0..N-1)")
    ap.add_argument("--text-encoder", default="minilm")
    ap.add_argument("--work", help="folder for manifests and models (default: a temp folder)")
    ap.add_argument("--plot", help="write the per-category AP bars here (PNG)")
    ap.add_argument("--json")
    args = ap.parse_args()
    samples = supersonic.labelled(supersonic.fetch() / "samples")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        result = run_categories(
            samples,
            supersonic.CATEGORY_WORDS,
            work,
            text=args.text_encoder,
            splits=args.splits,
            train_options=TRAIN_OPTIONS,
            progress=progress_bar("embedding samples"),
        )
    result["package"] = supersonic.PACKAGE.spec
    result["train_options"] = " ".join(TRAIN_OPTIONS)
    facts = machine_facts()
    print(facts_markdown(facts))
    print(md_table(["task", "queries", "mAP (95% CI)", "chance mAP", "gain over chance (95% CI)",
                    "sign-flip p"], _rows(result)))  # fmt: skip
    per = result["audio_to_audio"]["per_category"]
    t2a = result["text_to_audio"]["per_category"]
    print(md_table(["category", "files", "a→a AP", "a→a chance", "t→a AP", "t→a chance"],
                   [[c, per[c]["n"], per[c]["ap"], per[c]["chance"], t2a[c]["ap"],
                     t2a[c]["chance"]] for c in per]))  # fmt: skip
    if args.plot:
        plot_categories(result, Path(args.plot))
    write_json(args.json, {"facts": facts, "results": result})


if __name__ == "__main__":
    main()
