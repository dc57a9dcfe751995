"""Cross-style emoji benchmark: OpenMoji's concepts and words, another style's drawings.

The concepts and their split are exactly those of the ``openmoji`` benchmark (same seed,
same ``splits.json``), so a model trained on OpenMoji's colour drawings of the train split
can be tested on test-split concepts drawn in a style it has never seen (see
:mod:`xmodal.datasets.emoji_styles`). Only the concepts of the split that the style draws
are included; ``benchmark.json`` records how many that is (``covered_concepts`` out of
``split_concepts``). Files, names and tasks (``t2i``, ``t2i-tags``, ``i2t``, ``category``)
are built by the ``openmoji`` benchmark's own code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmodal.datasets import emoji_styles as styles
from xmodal.datasets import npm, svg_sets
from xmodal.datasets import openmoji as om
from xmodal.datasets import twemoji as tw
from xmodal.errors import XmodalError
from xmodal.eval.benchmarks import (
    BenchmarkLayout,
    Staging,
    load_layout,
    register_benchmark,
    write_manifest,
)
from xmodal.eval.benchmarks import openmoji as bom
from xmodal.eval.benchmarks.options import doc, make_options
from xmodal.progress import ProgressFactory

NAME = "emoji-styles"


@dataclass(frozen=True, slots=True)
class EmojiStylesOptions(bom.SplitOptions):
    """What ``bench prepare emoji-styles`` takes."""

    style: str = field(
        default="twemoji",
        metadata=doc("drawing style: twemoji, openmoji-black, noto or fluent-flat"),
    )
    style_extracted: Path | None = field(
        default=None,
        metadata=doc(
            "an unpacked package of the style (Twemoji; Noto, Fluent: the split SVGs), "
            "instead of fetching"
        ),
    )


def prepare(
    out: Path, *, progress: ProgressFactory | None = None, **options: Any
) -> BenchmarkLayout:
    """Prepare the ``style`` drawings of OpenMoji's ``split`` in ``out`` (replacing it).

    ``options`` are the fields of :class:`EmojiStylesOptions`. ``limit`` keeps the first N
    concepts of the split that the style draws. ``extracted`` is an unpacked OpenMoji
    package and ``style_extracted`` an unpacked style package (Twemoji), used instead of
    fetching them.
    """
    opts = make_options(EmojiStylesOptions, options, benchmark=NAME)
    style, split = opts.style, opts.split
    chosen_style = styles.get_style(style)
    bom.check_split(split, opts.limit)
    source = opts.extracted if opts.extracted is not None else om.fetch()
    style_extracted = opts.style_extracted
    if style == "twemoji" and style_extracted is None:
        style_extracted = tw.fetch()
    elif style in styles.SVG_SETS and style_extracted is None:
        style_extracted = svg_sets.fetch(styles.SVG_SETS[style])
    parts = bom.load_split(source, split, opts.seed)

    covered = _covered(opts, parts[split], source, style_extracted)
    chosen = covered[: opts.limit] if opts.limit is not None else covered
    if not chosen:
        raise XmodalError(f"the {style} style draws none of the {split} split's concepts")
    params = _params(
        opts, chosen_style, _source_sha256(style_extracted or source), len(parts[split]), covered
    )

    def render(emojis: Sequence[om.Emoji], render_dir: Path) -> None:
        styles.render_style(
            style,
            emojis,
            render_dir,
            opts.size,
            openmoji_extracted=source,
            style_extracted=style_extracted,
            progress=progress,
        )

    with Staging(out) as root:
        bom.write_splits(root / bom.SPLITS_FILE, parts, opts.seed)
        layout = bom.build(
            root,
            chosen,
            render,
            params,
            name=NAME,
            description=(
                f"{chosen_style.title} drawings of OpenMoji's {split} concepts, "
                "queried with OpenMoji's captions and tags"
            ),
            attribution=opts.attribution(chosen_style.attribution),
            other_names=opts.other_names(chosen),
            counts={"split_concepts": len(parts[split]), "covered_concepts": len(covered)},
        )
        write_manifest(layout)
    return load_layout(out)


def _covered(
    opts: EmojiStylesOptions,
    concepts: Sequence[bom.Concept],
    source: Path,
    style_extracted: Path | None,
) -> list[bom.Concept]:
    """The concepts of which the style draws at least one member."""
    members = bom.members(concepts, opts.include_skin_tones)
    drawn = _drawn_hexcodes(opts.style, members, source, style_extracted)
    return [
        c
        for c in concepts
        if any(e.hexcode in drawn for e in bom.members([c], opts.include_skin_tones))
    ]


def _params(
    opts: EmojiStylesOptions,
    chosen_style: styles.Style,
    sha256: str | None,
    split_concepts: int,
    covered: Sequence[bom.Concept],
) -> dict[str, Any]:
    package = chosen_style.package
    return {
        "style": opts.style,
        "style_package": package.name,
        "style_version": package.version,
        "style_sha256": sha256,
        **opts.split_params(),
        "split_concepts": split_concepts,
        "covered_concepts": len(covered),
        "coverage": round(len(covered) / split_concepts, 4) if split_concepts else 0.0,
        "attribution": opts.attribution(chosen_style.attribution),
    }


def _drawn_hexcodes(
    style: str, emojis: Sequence[om.Emoji], source: Path, style_extracted: Path | None
) -> set[str]:
    # Known from the unpacked files, before anything is rendered.
    if style == "twemoji":
        assert style_extracted is not None
        return {e.hexcode for e, _ in tw.svgs_for(emojis, style_extracted)}
    if style in styles.SVG_SETS:
        assert style_extracted is not None
        return {e.hexcode for e, _ in svg_sets.svgs_for(emojis, style_extracted)}
    black = (style_extracted or source) / "black" / "svg"
    return {e.hexcode for e in emojis if (black / f"{e.hexcode}.svg").is_file()}


def _source_sha256(unpacked: Path) -> str | None:
    # What was really unpacked, not what was pinned: a caller may pass any folder, and one
    # not made by fetch() has no marker, so its source is recorded as unknown.
    marker = npm.read_marker(unpacked)
    return marker.split()[0] if marker else None


register_benchmark(NAME, prepare)
