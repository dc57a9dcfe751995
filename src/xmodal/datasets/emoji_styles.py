"""OpenMoji's emojis drawn in other styles, described by OpenMoji's own words.

A style supplies drawings only; captions, tags, subgroups and the concept split stay
OpenMoji's, so a model trained on OpenMoji's colour drawings of the train split can be
tested on test-split concepts in a style it has never seen.

- ``twemoji``: Twemoji 15 (CC BY 4.0), matched to OpenMoji by code points;
- ``openmoji-black``: OpenMoji's own line-art versions (CC BY-SA 4.0);
- ``noto``: Google's Noto Emoji (Apache 2.0), from ``@svgmoji/noto``;
- ``fluent-flat``: Microsoft's Fluent Emoji Flat (MIT), from Iconify's table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from xmodal.datasets import npm, svg_sets
from xmodal.datasets import openmoji as om
from xmodal.datasets import twemoji as tw
from xmodal.errors import XmodalError
from xmodal.progress import ProgressFactory


@dataclass(frozen=True)
class Style:
    name: str
    title: str
    package: npm.PinnedPackage
    attribution: str


STYLES: dict[str, Style] = {
    "twemoji": Style("twemoji", "Twemoji", tw.PACKAGE, tw.ATTRIBUTION),
    "openmoji-black": Style(
        "openmoji-black", "OpenMoji black (line art)", om.PACKAGE, om.BLACK_ATTRIBUTION
    ),
    "noto": Style("noto", "Noto Emoji", svg_sets.NOTO.package, svg_sets.NOTO.attribution),
    "fluent-flat": Style(
        "fluent-flat",
        "Fluent Emoji Flat",
        svg_sets.FLUENT_FLAT.package,
        svg_sets.FLUENT_FLAT.attribution,
    ),
}
#: the styles shipped as one file of many drawings, split by :mod:`xmodal.datasets.svg_sets`
SVG_SETS = {"noto": svg_sets.NOTO, "fluent-flat": svg_sets.FLUENT_FLAT}


def get_style(name: str) -> Style:
    try:
        return STYLES[name]
    except KeyError:
        raise XmodalError(f"unknown emoji style {name!r}; known: {', '.join(STYLES)}") from None


def render_style(
    name: str,
    emojis: Iterable[om.Emoji],
    out_dir: Path,
    size: int = 96,
    *,
    openmoji_extracted: Path | None = None,
    style_extracted: Path | None = None,
    sidecars: bool = False,
    progress: ProgressFactory | None = None,
) -> list[om.Drawing]:
    """Render the drawings style ``name`` has of ``emojis``; the others are left out.

    ``openmoji_extracted`` and ``style_extracted`` use unpacked packages instead of fetching
    them (for ``openmoji-black`` the OpenMoji package is the style's package, and
    ``style_extracted`` wins when both are given; for ``noto`` and ``fluent-flat`` it is the
    folder of split SVGs :func:`xmodal.datasets.svg_sets.fetch` returns).
    """
    get_style(name)
    if name in SVG_SETS:
        return svg_sets.render_for(
            SVG_SETS[name],
            emojis,
            out_dir,
            size,
            svg_dir=style_extracted,
            sidecars=sidecars,
            progress=progress,
        )
    if name == "twemoji":
        return tw.render_for(
            emojis,
            out_dir,
            size,
            extracted=style_extracted,
            sidecars=sidecars,
            progress=progress,
        )
    return om.render_black_for(
        emojis,
        out_dir,
        size,
        extracted=style_extracted or openmoji_extracted,
        sidecars=sidecars,
        progress=progress,
    )


def drawings_for(
    name: str,
    hexcodes: Iterable[str],
    out_dir: Path,
    size: int = 96,
    *,
    openmoji_extracted: Path | None = None,
    style_extracted: Path | None = None,
    sidecars: bool = False,
    progress: ProgressFactory | None = None,
) -> list[om.Drawing]:
    """Style ``name``'s drawings of the OpenMoji emojis ``hexcodes`` (skin tones included).

    Meant for training and evaluation code holding hexcodes, e.g. a split of the OpenMoji
    benchmark's ``splits.json``; each drawing comes with its OpenMoji emoji (caption, tags,
    subgroup). Hexcodes OpenMoji does not know, or the style does not draw, are left out.
    """
    source = openmoji_extracted if openmoji_extracted is not None else om.fetch()
    by_hex = {e.hexcode: e for e in om.load_emojis(source, include_skin_tones=True)}
    wanted = [by_hex[h] for h in dict.fromkeys(hexcodes) if h in by_hex]
    return render_style(
        name,
        wanted,
        out_dir,
        size,
        openmoji_extracted=source,
        style_extracted=style_extracted,
        sidecars=sidecars,
        progress=progress,
    )
