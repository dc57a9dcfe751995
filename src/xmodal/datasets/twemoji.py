"""Twemoji 15.0.0: the same emojis as OpenMoji in another drawing style.

Twemoji has no captions of its own here: each drawing is matched to the OpenMoji emoji with
the same code points and takes that emoji's caption, tags and subgroup, so a model trained
on OpenMoji can be tested on drawings in a style it has never seen.

The SVGs come from the pinned npm package ``@twemoji/svg``. Twemoji names a drawing by its
lowercase code points (``1f468-200d-1f373.svg``), mostly without U+FE0F and without leading
zeros, where OpenMoji writes ``0023-FE0F-20E3``; both are compared as code-point tuples with
U+FE0F dropped.

The graphics are licensed CC BY 4.0; every rendered folder carries an ``ATTRIBUTION.txt``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from xmodal.datasets import npm
from xmodal.datasets import openmoji as om
from xmodal.errors import XmodalError
from xmodal.progress import ProgressFactory

VERSION = "15.0.0"
PACKAGE_NAME = "@twemoji/svg"
PACKAGE_SPEC = f"{PACKAGE_NAME}@{VERSION}"
TARBALL_NAME = f"twemoji-svg-{VERSION}.tgz"
TARBALL_SHA256 = "1d2907557a422c7c4e3feca50ef915c39da1db3d76b4a4d7e73fb59bce4403c3"

ATTRIBUTION = (
    "Twemoji – © Twitter, Inc. (now X Corp.) and other contributors.\n"
    "Graphics license: CC BY 4.0\n"
    "https://github.com/jdecked/twemoji\n"
    "https://creativecommons.org/licenses/by/4.0/\n"
    "\n"
    f"The images here were rendered to PNG from the {PACKAGE_SPEC} SVGs. Their captions and\n"
    f"tags are not Twemoji's: they come from OpenMoji {om.VERSION}'s data/openmoji.json\n"
    "(CC BY-SA 4.0, https://openmoji.org), matched by code points.\n"
)

_SVG_MEMBER = re.compile(r"package/([0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*\.svg)")
_VS16 = 0xFE0F


def _select_member(name: str) -> PurePosixPath | None:
    match = _SVG_MEMBER.fullmatch(name)
    return PurePosixPath("svg", match.group(1)) if match else None


def _check_members(unpacked: Sequence[PurePosixPath]) -> str | None:
    if unpacked:
        return None
    return "a Twemoji package: it has no package/<codepoints>.svg"


PACKAGE = npm.PinnedPackage(
    name=PACKAGE_NAME,
    version=VERSION,
    tarball_name=TARBALL_NAME,
    sha256=TARBALL_SHA256,
    title="Twemoji",
    cache_name="twemoji",
    members=npm.MemberFilter(key="svg", select=_select_member, check=_check_members),
)


def fetch(
    cache: Path | None = None,
    *,
    tarball: Path | None = None,
    expected_sha256: str | None = TARBALL_SHA256,
) -> Path:
    """Make sure Twemoji is unpacked in the cache and return the unpacked folder.

    The folder holds ``svg/<codepoints>.svg``. Otherwise this works as
    :func:`xmodal.datasets.openmoji.fetch`, in ``<cache>/twemoji/<version>/``.
    """
    return npm.fetch(PACKAGE, cache, tarball=tarball, expected_sha256=expected_sha256)


def codepoints(name: str) -> tuple[int, ...]:
    """The code points of a hyphenated hex name, without U+FE0F: the key both sets share.

    ``"0023-FE0F-20E3"`` and ``"23-20e3"`` both give ``(0x23, 0x20E3)``.
    """
    try:
        points = tuple(int(part, 16) for part in name.split("-"))
    except ValueError:
        raise XmodalError(f"{name!r} is not a hyphenated list of hex code points") from None
    return tuple(p for p in points if p != _VS16)


def drawings(extracted: Path) -> dict[tuple[int, ...], Path]:
    """Every Twemoji SVG under an unpacked package, by :func:`codepoints`."""
    svg_dir = extracted / "svg"
    if not svg_dir.is_dir():
        raise XmodalError(f"{svg_dir} is missing; run fetch() first")
    found: dict[tuple[int, ...], Path] = {}
    # Sorted, so that if two names ever differ only by U+FE0F the same one always wins.
    for svg in sorted(svg_dir.glob("*.svg")):
        try:
            key = codepoints(svg.stem)
        except XmodalError:
            continue
        found.setdefault(key, svg)
    return found


def svgs_for(emojis: Iterable[om.Emoji], extracted: Path) -> list[tuple[om.Emoji, Path]]:
    """Each emoji that Twemoji draws, with its SVG, in the order given."""
    available = drawings(extracted)
    pairs: list[tuple[om.Emoji, Path]] = []
    for emoji in emojis:
        try:
            svg = available.get(codepoints(emoji.hexcode))
        except XmodalError:
            continue
        if svg is not None:
            pairs.append((emoji, svg))
    return pairs


def render_for(
    emojis: Iterable[om.Emoji],
    out_dir: Path,
    size: int = 96,
    *,
    extracted: Path | None = None,
    sidecars: bool = False,
    progress: ProgressFactory | None = None,
) -> list[om.Drawing]:
    """Render the Twemoji drawings of ``emojis`` into ``out_dir``, at OpenMoji's size.

    Each result pairs a PNG with the OpenMoji emoji whose words describe it; PNG paths
    follow :func:`xmodal.datasets.openmoji.image_path`. Emojis Twemoji does not draw are
    left out. ``extracted`` uses an unpacked Twemoji package instead of calling
    :func:`fetch`.
    """
    source = extracted if extracted is not None else fetch()
    # The 36x36 viewBox is scaled to the requested size like OpenMoji's 72x72 one.
    return om.render_drawings(
        svgs_for(emojis, source),
        out_dir,
        size,
        attribution=ATTRIBUTION,
        sidecars=sidecars,
        progress=progress,
        label="Twemoji",
    )
