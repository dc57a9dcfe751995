"""OpenMoji 17.0.0: emoji drawings with captions and tags, used as a small cross-modal corpus.

The artwork is distributed as a versioned npm package, which gives a pinned, checksummed
download; it is fetched into the cache, verified, and only the metadata and the colour and
line-art ("black") SVGs are unpacked. PNGs are rendered from the SVGs on demand and never
live in the repository.

OpenMoji is licensed CC BY-SA 4.0; every rendered folder carries an ``ATTRIBUTION.txt``.
"""

from __future__ import annotations

import json
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import resvg_py

from xmodal.atomic import atomic_write_bytes
from xmodal.datasets import npm
from xmodal.errors import XmodalError
from xmodal.paths import cache_dir as cache_dir
from xmodal.progress import ProgressFactory, start_progress

VERSION = "17.0.0"
PACKAGE_SPEC = f"openmoji@{VERSION}"
TARBALL_NAME = f"openmoji-{VERSION}.tgz"
TARBALL_SHA256 = "55ee7d13485dec86e9f38c1f3a645a13382d33ff97c0cd845ee824b0aef45e68"

ATTRIBUTION = (
    "OpenMoji – the open-source emoji and icon project. License: CC BY-SA 4.0\n"
    "https://openmoji.org\n"
    "https://creativecommons.org/licenses/by-sa/4.0/\n"
    "\n"
    f"The images here were rendered to PNG from the OpenMoji {VERSION} colour SVGs; the\n"
    "captions and tags come from the same package's data/openmoji.json.\n"
)
BLACK_ATTRIBUTION = ATTRIBUTION.replace("colour SVGs", "black (line-art) SVGs")

_DATA_MEMBER = "package/data/openmoji.json"
_SVG_PREFIXES = ("package/color/svg/", "package/black/svg/")
_SVG_LEAF = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*\.svg")
# Hexcodes end up in file paths, so anything else in the metadata is refused, not escaped.
_HEXCODE = re.compile(r"[0-9A-F]+(?:-[0-9A-F]+)*")
_MAX_SIZE = 4096

_GROUP_TITLES = {
    "smileys-emotion": "Smileys and emotion",
    "people-body": "People and body",
    "component": "Components",
    "animals-nature": "Animals and nature",
    "food-drink": "Food and drink",
    "travel-places": "Travel and places",
    "activities": "Activities",
    "objects": "Objects",
    "symbols": "Symbols",
    "flags": "Flags",
    "extras-openmoji": "OpenMoji extras",
    "extras-unicode": "Extra Unicode symbols",
}


@dataclass(frozen=True)
class Emoji:
    """One OpenMoji drawing and the words that describe it."""

    hexcode: str
    emoji: str
    annotation: str
    tags: tuple[str, ...]
    group: str
    subgroup: str
    # "" for a base emoji; otherwise the Fitzpatrick tone(s), e.g. "3" or "1,5".
    skintone: str
    base_hexcode: str


def fetch(
    cache: Path | None = None,
    *,
    tarball: Path | None = None,
    expected_sha256: str | None = TARBALL_SHA256,
) -> Path:
    """Make sure OpenMoji is unpacked in the cache and return the unpacked folder.

    The folder holds ``data/openmoji.json``, ``color/svg/<HEXCODE>.svg`` and the line-art
    ``black/svg/<HEXCODE>.svg``. Without ``tarball`` the pinned package is downloaded with
    ``npm pack`` into ``<cache>/openmoji/<version>/`` when it is not there yet. ``tarball``
    unpacks a local file instead; it is checked against ``expected_sha256`` like a download,
    and ``None`` skips the check. A second call with the same source returns at once.
    """
    return npm.fetch(PACKAGE, cache, tarball=tarball, expected_sha256=expected_sha256)


def load_emojis(extracted: Path, include_skin_tones: bool = False) -> list[Emoji]:
    """Read the OpenMoji metadata, in the package's own order.

    Skin-tone variants share their base emoji's drawing style, caption and tags, so they
    are left out unless asked for; their ``base_hexcode`` names the emoji they vary.
    """
    path = extracted / "data" / "openmoji.json"
    raw = npm.read_json_list(path, "OpenMoji metadata")

    emojis: list[Emoji] = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise XmodalError(f"{path} holds a non-object entry: {entry!r:.80}")
        # The JSON mixes types: a single skin tone is an int, a combination a "1,5" string.
        skintone = _text(entry.get("skintone"))
        if skintone and not include_skin_tones:
            continue
        hexcode = _text(entry.get("hexcode"))
        base = _text(entry.get("skintone_base_hexcode")) if skintone else ""
        emojis.append(
            Emoji(
                hexcode=hexcode,
                emoji=_text(entry.get("emoji")),
                annotation=_text(entry.get("annotation")),
                tags=_tags(entry.get("tags"), entry.get("openmoji_tags")),
                group=_text(entry.get("group")),
                subgroup=_text(entry.get("subgroups")),
                skintone=skintone,
                base_hexcode=base or hexcode,
            )
        )
    return emojis


def image_path(emoji: Emoji, out_dir: Path) -> Path:
    """Where :func:`rasterise` puts an emoji's PNG: ``<group>/<HEXCODE>-<annotation slug>.png``."""
    slug = _slug(emoji.annotation)
    name = f"{emoji.hexcode}-{slug}.png" if slug else f"{emoji.hexcode}.png"
    return out_dir / (_slug(emoji.group) or "ungrouped") / name


@dataclass(frozen=True)
class Drawing:
    """A rendered PNG and the OpenMoji emoji whose words describe it."""

    path: Path
    emoji: Emoji


def rasterise(
    emojis: Iterable[Emoji],
    extracted: Path,
    out_dir: Path,
    size: int = 96,
    *,
    sidecars: bool = True,
    progress: ProgressFactory | None = None,
) -> list[Path]:
    """Render emojis to ``size``-pixel RGBA PNGs on a transparent background.

    With ``sidecars`` each PNG gets a ``.json`` of the same stem with its caption, tags,
    group and subgroup. Files already there at the right size are kept, so an interrupted
    run can simply be repeated. An SVG that cannot be rendered is skipped with a warning.
    Returns the PNG paths of every emoji that has one.
    """
    svg_dir = extracted / "color" / "svg"
    drawings = render_drawings(
        ((e, svg_dir / f"{e.hexcode}.svg") for e in emojis),
        out_dir,
        size,
        attribution=ATTRIBUTION,
        sidecars=sidecars,
        progress=progress,
    )
    return [d.path for d in drawings]


def render_black_for(
    emojis: Iterable[Emoji],
    out_dir: Path,
    size: int = 96,
    *,
    extracted: Path | None = None,
    sidecars: bool = False,
    progress: ProgressFactory | None = None,
) -> list[Drawing]:
    """Render the line-art ("black") OpenMoji drawings of ``emojis`` into ``out_dir``.

    Paths follow :func:`image_path`. Emojis without a line-art drawing are left out
    silently; ``extracted`` uses an unpacked package instead of calling :func:`fetch`.
    """
    source = extracted if extracted is not None else fetch()
    svg_dir = source / "black" / "svg"
    present = [e for e in emojis if (svg_dir / f"{e.hexcode}.svg").is_file()]
    return render_drawings(
        ((e, svg_dir / f"{e.hexcode}.svg") for e in present),
        out_dir,
        size,
        attribution=BLACK_ATTRIBUTION,
        sidecars=sidecars,
        progress=progress,
        label="OpenMoji black",
    )


def render_drawings(
    svgs: Iterable[tuple[Emoji, Path]],
    out_dir: Path,
    size: int,
    *,
    attribution: str,
    sidecars: bool = False,
    progress: ProgressFactory | None = None,
    label: str = "OpenMoji",
    path_of: Callable[[Emoji, Path], Path] = image_path,
) -> list[Drawing]:
    """Render each emoji's SVG (in any drawing style) to ``path_of(emoji, out_dir)``
    (:func:`image_path` by default).

    This is :func:`rasterise` for SVGs that are not OpenMoji's colour drawings; the caption,
    tags and file names still come from the OpenMoji emoji. ``attribution`` is written to
    ``out_dir/ATTRIBUTION.txt``. ``progress`` is told of each drawing done or skipped.
    """
    if not 1 <= size <= _MAX_SIZE:
        raise XmodalError(f"size must be between 1 and {_MAX_SIZE} pixels, got {size}")
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_text(out_dir / "ATTRIBUTION.txt", attribution)

    items = list(svgs)
    done: list[Drawing] = []
    bar = start_progress(progress, len(items))
    try:
        for emoji, svg in items:
            drawing = _render_one(emoji, svg, out_dir, size, sidecars, label, path_of)
            if drawing is not None:
                done.append(drawing)
            bar.update(1)
    finally:
        bar.close()
    return done


def _render_one(
    emoji: Emoji,
    svg: Path,
    out_dir: Path,
    size: int,
    sidecars: bool,
    label: str,
    path_of: Callable[[Emoji, Path], Path],
) -> Drawing | None:
    """Render one drawing (and its sidecar) unless it is there already; ``None`` when it
    is skipped with a warning."""
    if not _HEXCODE.fullmatch(emoji.hexcode):
        # stacklevel 4: past this helper, render_drawings and the public function calling it
        warnings.warn(f"skipping {label} entry with bad hexcode {emoji.hexcode!r}", stacklevel=4)
        return None
    png = path_of(emoji, out_dir)
    if _png_size(png) != (size, size):
        try:
            data = _render(svg, size)
        except XmodalError as exc:
            warnings.warn(
                f"skipping {label} {emoji.hexcode} ({emoji.annotation}): {exc}", stacklevel=4
            )
            return None
        png.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(png, data)
    if sidecars:
        sidecar = png.with_suffix(".json")
        if not sidecar.exists():
            meta = {
                "caption": emoji.annotation,
                "tags": list(emoji.tags),
                "group": emoji.group,
                "subgroup": emoji.subgroup,
            }
            _write_text(sidecar, json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    return Drawing(png, emoji)


def _base_sample(limit: int | None, extracted: Path | None) -> tuple[Path, list[Emoji]]:
    # One choice for both corpora, so that a limit picks the same emojis in each.
    if limit is not None and limit < 0:
        raise XmodalError(f"limit must not be negative, got {limit}")
    source = extracted if extracted is not None else fetch()
    return source, _spread(load_emojis(source), limit)


def build_sample(
    out_dir: Path,
    *,
    limit: int | None = None,
    size: int = 96,
    progress: ProgressFactory | None = None,
    extracted: Path | None = None,
) -> Path:
    """Build a mixed image + text corpus from the base emojis (no skin-tone variants).

    Writes the PNGs and sidecars of :func:`rasterise` and, under ``notes/``, one markdown
    note per group that names its emojis in prose, subgroup by subgroup. ``limit`` keeps the
    first N emojis taken round-robin over the groups, so even a small sample spans every
    group. ``extracted`` uses an already unpacked package instead of calling :func:`fetch`.
    Returns ``out_dir``.
    """
    source, emojis = _base_sample(limit, extracted)
    rasterise(emojis, source, out_dir, size, progress=progress)
    notes = out_dir / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    for group, members in _by_key(emojis, lambda e: e.group).items():
        _write_text(notes / f"{_slug(group) or 'ungrouped'}.md", _group_note(group, members))
    return out_dir


def build_pictures(
    out_dir: Path,
    *,
    limit: int | None = None,
    size: int = 96,
    progress: ProgressFactory | None = None,
    extracted: Path | None = None,
) -> list[Drawing]:
    """The base emojis as pictures alone: numbered PNGs (``0001.png`` ...), no sidecars, no
    words in any name, so whatever finds them by text has read the pixels. Returns each
    picture with its emoji, for showing what a result is."""
    source, emojis = _base_sample(limit, extracted)
    number = {e.hexcode: n for n, e in enumerate(emojis, start=1)}
    return render_drawings(
        [(e, source / "color" / "svg" / f"{e.hexcode}.svg") for e in emojis],
        out_dir,
        size,
        attribution=ATTRIBUTION,
        progress=progress,
        path_of=lambda e, d: d / f"{number[e.hexcode]:04d}.png",
    )


# --- fetching ---------------------------------------------------------------------------


def _select_member(name: str) -> PurePosixPath | None:
    if name == _DATA_MEMBER:
        return PurePosixPath("data", "openmoji.json")
    for prefix in _SVG_PREFIXES:
        if name.startswith(prefix) and _SVG_LEAF.fullmatch(name[len(prefix) :]):
            return PurePosixPath(prefix.removeprefix("package/"), name[len(prefix) :])
    return None


def _check_members(unpacked: Sequence[PurePosixPath]) -> str | None:
    # The line art is optional: only the colour drawings are needed by everything.
    found_data = PurePosixPath("data", "openmoji.json") in unpacked
    colour = any(p.parts[:2] == ("color", "svg") for p in unpacked)
    if found_data and colour:
        return None
    return f"an OpenMoji package: it lacks {_DATA_MEMBER} or {_SVG_PREFIXES[0]}*.svg"


PACKAGE = npm.PinnedPackage(
    name="openmoji",
    version=VERSION,
    tarball_name=TARBALL_NAME,
    sha256=TARBALL_SHA256,
    title="OpenMoji",
    cache_name="openmoji",
    members=npm.MemberFilter(
        key="data+color/svg+black/svg", select=_select_member, check=_check_members
    ),
)


# --- metadata ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _tags(*fields: Any) -> tuple[str, ...]:
    # Unicode's CLDR keywords come first; OpenMoji's own tags add to them and are the only
    # ones the non-Unicode extras have.
    seen: set[str] = set()
    tags: list[str] = []
    for field in fields:
        for tag in _text(field).split(","):
            tag = tag.strip()
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
    return tuple(tags)


def _slug(text: str, max_len: int = 60) -> str:
    # Apostrophes are dropped rather than turned into separators: "woman’s hat" -> "womans-hat".
    text = text.replace("'", "").replace("’", "")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-")


# --- rendering --------------------------------------------------------------------------


def _render(svg: Path, size: int) -> bytes:
    try:
        markup = svg.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise XmodalError(f"cannot read {svg.name}: {exc}") from exc
    try:
        # Emoji SVGs contain no text, so system fonts are not needed and not loaded.
        data = resvg_py.svg_to_bytes(
            svg_string=markup, width=size, height=size, skip_system_fonts=True
        )
    except Exception as exc:  # the binding's error types beyond ValueError are undocumented
        raise XmodalError(f"cannot render {svg.name}: {exc}") from exc
    png = bytes(data)
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise XmodalError(f"rendering {svg.name} did not produce a PNG")
    return png


def _png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG's header, or None when there is no readable PNG."""
    try:
        with path.open("rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if len(head) < 24 or not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# --- sample -----------------------------------------------------------------------------


def _by_key(emojis: Iterable[Emoji], key: Callable[[Emoji], str]) -> dict[str, list[Emoji]]:
    grouped: dict[str, list[Emoji]] = {}
    for emoji in emojis:
        grouped.setdefault(key(emoji), []).append(emoji)
    return grouped


def _spread(emojis: Sequence[Emoji], limit: int | None) -> list[Emoji]:
    """The first ``limit`` emojis dealt round-robin over the groups, in package order."""
    if limit is None or limit >= len(emojis):
        return list(emojis)
    queues = [iter(members) for members in _by_key(emojis, lambda e: e.group).values()]
    picked: list[Emoji] = []
    while len(picked) < limit:
        for queue in list(queues):
            emoji = next(queue, None)
            if emoji is None:
                queues.remove(queue)
                continue
            picked.append(emoji)
            if len(picked) == limit:
                break
    return picked


def _group_note(group: str, members: Sequence[Emoji]) -> str:
    title = _GROUP_TITLES.get(group) or group.replace("-", " ").capitalize() or "Ungrouped"
    count = len(members)
    lines = [
        f"# {title}",
        "",
        f"The OpenMoji group {group} is represented here by {count} "
        f"emoji{'s' if count != 1 else ''}, listed subgroup by subgroup.",
    ]
    for subgroup, emojis in _by_key(members, lambda e: e.subgroup).items():
        names = _prose_list([e.annotation for e in emojis if e.annotation])
        if names:
            lines += ["", f"The subgroup {subgroup or 'without a name'} includes: {names}."]
    return "\n".join(lines) + "\n"


def _prose_list(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]
