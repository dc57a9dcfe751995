"""Emoji drawing sets that ship many drawings in one file: Noto's sprite sheet and Fluent
Emoji Flat's icon table.

- Noto (``@svgmoji/noto`` 3.2.0, Apache 2.0): ``sprites/all.svg`` holds one ``<svg id=HEX>``
  per emoji;
- Fluent Emoji Flat (``@iconify-json/fluent-emoji-flat`` 1.2.6, MIT): ``icons.json`` holds
  each drawing's SVG body by name and ``chars.json`` names the drawing of each code point
  sequence.

The set is split once into one SVG per emoji under ``<cache>/<set>/<version>/svg/``, named by
its code points without U+FE0F, so the drawings are rendered and matched to OpenMoji's
emojis as Twemoji's are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from xmodal.datasets import npm
from xmodal.datasets import openmoji as om
from xmodal.datasets.twemoji import codepoints
from xmodal.errors import XmodalError
from xmodal.progress import ProgressFactory

_SPLIT_MARKER = ".split-from"


@dataclass(frozen=True)
class SvgSet:
    package: npm.PinnedPackage
    attribution: str
    #: the unpacked package's drawings as ``(code points, SVG markup)``
    parse: Callable[[Path], Iterable[tuple[tuple[int, ...], str]]]


def _members(*wanted: str) -> npm.MemberFilter:
    names = {f"package/{w}": PurePosixPath(w) for w in wanted}

    def check(unpacked: Sequence[PurePosixPath]) -> str | None:
        missing = [str(p) for p in names.values() if p not in unpacked]
        return f"the expected package: it lacks {', '.join(missing)}" if missing else None

    return npm.MemberFilter(key="+".join(wanted), select=names.get, check=check)


# Each drawing is a child <svg> of the sheet with its code points as id; the attributes come
# in either order, and the sheet's own <svg> has no id.
_NOTO_SVG = re.compile(r'<svg ([^>]*\bid="([0-9A-Fa-f-]+)"[^>]*)>(.*?)</svg>', re.S)
_VIEWBOX = re.compile(r'\bviewBox="([^"]*)"')


def _parse_noto(extracted: Path) -> Iterable[tuple[tuple[int, ...], str]]:
    sprite = _read(extracted / "sprites" / "all.svg")
    head = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    for m in _NOTO_SVG.finditer(sprite):
        try:
            key = codepoints(m.group(2))
        except XmodalError:
            continue
        box = _VIEWBOX.search(m.group(1))
        yield key, f'{head} viewBox="{box.group(1) if box else "0 0 128 128"}">{m.group(3)}</svg>'


def _parse_iconify(extracted: Path) -> Iterable[tuple[tuple[int, ...], str]]:
    try:
        table = json.loads(_read(extracted / "icons.json"))
        chars = json.loads(_read(extracted / "chars.json"))
        icons = table["icons"]
        width, height = int(table.get("width", 16)), int(table.get("height", 16))
    except (ValueError, KeyError, TypeError) as exc:
        raise XmodalError(f"{extracted} is not an Iconify icon set: {exc}") from exc
    for hexcode, name in chars.items():
        icon = icons.get(name)
        if not isinstance(icon, dict) or "body" not in icon:
            continue  # an alias (a flipped drawing) is left out rather than drawn wrong
        try:
            key = codepoints(hexcode)
        except XmodalError:
            continue
        w, h = int(icon.get("width", width)), int(icon.get("height", height))
        yield (
            key,
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}">{icon["body"]}</svg>',
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise XmodalError(f"{path} is missing; fetch the package first") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise XmodalError(f"cannot read {path}: {exc}") from exc


NOTO = SvgSet(
    npm.PinnedPackage(
        name="@svgmoji/noto",
        version="3.2.0",
        tarball_name="svgmoji-noto-3.2.0.tgz",
        sha256="4bd1ef9824efaa08f124541a4c3420899a273333169aada20761384f9c7a35d0",
        title="Noto Emoji",
        cache_name="noto",
        members=_members("sprites/all.svg", "LICENSE"),
    ),
    (
        "Noto Emoji – © Google LLC. License: Apache License 2.0\n"
        "https://github.com/googlefonts/noto-emoji\n"
        "https://www.apache.org/licenses/LICENSE-2.0\n"
        "\n"
        "The images here were rendered to PNG from the @svgmoji/noto@3.2.0 sprite sheet. Their\n"
        f"captions and tags are OpenMoji {om.VERSION}'s (CC BY-SA 4.0, https://openmoji.org).\n"
    ),
    _parse_noto,
)

FLUENT_FLAT = SvgSet(
    npm.PinnedPackage(
        name="@iconify-json/fluent-emoji-flat",
        version="1.2.6",
        tarball_name="iconify-json-fluent-emoji-flat-1.2.6.tgz",
        sha256="7d064769dee690815f823bc5bcc511d957198caf9f5edd8dd9c1aa48a6aeb175",
        title="Fluent Emoji Flat",
        cache_name="fluent-emoji-flat",
        members=_members("icons.json", "chars.json"),
    ),
    (
        "Fluent Emoji Flat – © Microsoft Corporation. License: MIT\n"
        "https://github.com/microsoft/fluentui-emoji\n"
        "\n"
        "The images here were rendered to PNG from @iconify-json/fluent-emoji-flat@1.2.6. Their\n"
        f"captions and tags are OpenMoji {om.VERSION}'s (CC BY-SA 4.0, https://openmoji.org).\n"
    ),
    _parse_iconify,
)


def fetch(svg_set: SvgSet, cache: Path | None = None, *, tarball: Path | None = None) -> Path:
    """The set unpacked and split: the folder of its ``<code points>.svg`` files."""
    extracted = npm.fetch(
        svg_set.package, cache, tarball=tarball, expected_sha256=svg_set.package.sha256
    )
    return split_svgs(svg_set, extracted)


def split_svgs(svg_set: SvgSet, extracted: Path) -> Path:
    """One SVG file per drawing of the unpacked set, beside ``extracted``; done once per
    unpacking (the marker names the unpacking's own marker)."""
    out = extracted.parent / "svg"
    package_marker = npm.read_marker(extracted)
    source = package_marker or str(extracted)
    try:
        if (out / _SPLIT_MARKER).read_text(encoding="utf-8") == source:
            return out
    except OSError:
        pass
    staging = Path(tempfile.mkdtemp(dir=extracted.parent, prefix=".split-"))
    try:
        for key, markup in svg_set.parse(extracted):
            name = "-".join(f"{p:x}" for p in key) + ".svg"
            (staging / name).write_text(markup, encoding="utf-8")
        (staging / _SPLIT_MARKER).write_text(source, encoding="utf-8")
        if package_marker is not None:
            # the package's checksum, where readers of an unpacked package look for it
            (staging / npm.MARKER).write_text(package_marker + "\n", encoding="ascii")
        if out.exists():
            shutil.rmtree(out)
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def svgs_for(emojis: Iterable[om.Emoji], svg_dir: Path) -> list[tuple[om.Emoji, Path]]:
    """Each emoji the split set draws, with its SVG, in the order given."""
    found: list[tuple[om.Emoji, Path]] = []
    for emoji in emojis:
        try:
            key = codepoints(emoji.hexcode)
        except XmodalError:
            continue
        svg = svg_dir / ("-".join(f"{p:x}" for p in key) + ".svg")
        if svg.is_file():
            found.append((emoji, svg))
    return found


def render_for(
    svg_set: SvgSet,
    emojis: Iterable[om.Emoji],
    out_dir: Path,
    size: int = 96,
    *,
    svg_dir: Path | None = None,
    sidecars: bool = False,
    progress: ProgressFactory | None = None,
) -> list[om.Drawing]:
    """Render the set's drawings of ``emojis`` into ``out_dir`` (paths as
    :func:`xmodal.datasets.openmoji.image_path`); ``svg_dir`` is an already split set."""
    source = svg_dir if svg_dir is not None else fetch(svg_set)
    return om.render_drawings(
        svgs_for(emojis, source),
        out_dir,
        size,
        attribution=svg_set.attribution,
        sidecars=sidecars,
        progress=progress,
        label=svg_set.package.title,
    )
