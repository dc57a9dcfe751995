"""OpenMoji 17.0.0: emoji drawings with captions and tags, used as a small cross-modal corpus.

The artwork is distributed as a versioned npm package, which gives a pinned, checksummed
download; it is fetched into the cache, verified, and only the metadata and the colour SVGs
are unpacked. PNGs are rendered from the SVGs on demand and never live in the repository.

OpenMoji is licensed CC BY-SA 4.0; every rendered folder carries an ``ATTRIBUTION.txt``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import unicodedata
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import resvg_py
from tqdm import tqdm

from xmodal.atomic import atomic_write_bytes
from xmodal.errors import XmodalError

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

_DATA_MEMBER = "package/data/openmoji.json"
_SVG_PREFIX = "package/color/svg/"
_SVG_LEAF = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*\.svg")
# Hexcodes end up in file paths, so anything else in the metadata is refused, not escaped.
_HEXCODE = re.compile(r"[0-9A-F]+(?:-[0-9A-F]+)*")
_MARKER = ".source-sha256"
_NPM_TIMEOUT_S = 300
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


def cache_dir() -> Path:
    """The root of xmodal's download cache: ``$XMODAL_CACHE``, else ``~/.cache/xmodal``."""
    env = os.environ.get("XMODAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xmodal"


def fetch(
    cache: Path | None = None,
    *,
    tarball: Path | None = None,
    expected_sha256: str | None = TARBALL_SHA256,
) -> Path:
    """Make sure OpenMoji is unpacked in the cache and return the unpacked folder.

    The folder holds ``data/openmoji.json`` and ``color/svg/<HEXCODE>.svg``. Without
    ``tarball`` the pinned package is downloaded with ``npm pack`` into
    ``<cache>/openmoji/<version>/`` when it is not there yet. ``tarball`` unpacks a local file
    instead; it is checked against ``expected_sha256`` like a download, and ``None`` skips
    the check. A second call with the same source returns at once.
    """
    root = (cache if cache is not None else cache_dir()) / "openmoji" / VERSION
    extracted = root / "extracted"
    expected = expected_sha256.lower() if expected_sha256 is not None else None
    if expected is not None and _read_marker(extracted) == expected:
        return extracted

    root.mkdir(parents=True, exist_ok=True)
    if tarball is None:
        source = root / TARBALL_NAME
        if not source.is_file():
            _npm_pack(root)
    else:
        source = tarball
        if not source.is_file():
            raise XmodalError(f"OpenMoji tarball {source} does not exist")

    actual = _sha256(source)
    if expected is not None and actual != expected:
        if tarball is None:
            # A corrupt or tampered cache entry must not survive to be trusted next time.
            source.unlink(missing_ok=True)
            hint = "the file was deleted; run again to download it afresh"
        else:
            hint = "pass the right file, or expected_sha256=None to skip the check"
        raise XmodalError(
            f"checksum mismatch for {source}: expected sha256 {expected}, got {actual}; {hint}"
        )
    if _read_marker(extracted) == actual:
        return extracted
    _extract(source, extracted, actual)
    return extracted


def load_emojis(extracted: Path, include_skin_tones: bool = False) -> list[Emoji]:
    """Read the OpenMoji metadata, in the package's own order.

    Skin-tone variants share their base emoji's drawing style, caption and tags, so they
    are left out unless asked for; their ``base_hexcode`` names the emoji they vary.
    """
    path = extracted / "data" / "openmoji.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise XmodalError(f"{path} is missing; run fetch() first") from exc
    except (OSError, ValueError) as exc:
        raise XmodalError(f"cannot read OpenMoji metadata {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise XmodalError(f"{path} is not a list of emojis")

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


def rasterise(
    emojis: Iterable[Emoji],
    extracted: Path,
    out_dir: Path,
    size: int = 96,
    *,
    sidecars: bool = True,
    progress: bool = True,
) -> list[Path]:
    """Render emojis to ``size``-pixel RGBA PNGs on a transparent background.

    With ``sidecars`` each PNG gets a ``.json`` of the same stem with its caption, tags,
    group and subgroup. Files already there at the right size are kept, so an interrupted
    run can simply be repeated. An SVG that cannot be rendered is skipped with a warning.
    Returns the PNG paths of every emoji that has one.
    """
    if not 1 <= size <= _MAX_SIZE:
        raise XmodalError(f"size must be between 1 and {_MAX_SIZE} pixels, got {size}")
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_text(out_dir / "ATTRIBUTION.txt", ATTRIBUTION)
    svg_dir = extracted / "color" / "svg"

    items = list(emojis)
    done: list[Path] = []
    for emoji in tqdm(items, desc="OpenMoji", unit="emoji", disable=not progress):
        if not _HEXCODE.fullmatch(emoji.hexcode):
            warnings.warn(
                f"skipping OpenMoji entry with bad hexcode {emoji.hexcode!r}", stacklevel=2
            )
            continue
        png = image_path(emoji, out_dir)
        if _png_size(png) != (size, size):
            try:
                data = _render(svg_dir / f"{emoji.hexcode}.svg", size)
            except XmodalError as exc:
                warnings.warn(
                    f"skipping OpenMoji {emoji.hexcode} ({emoji.annotation}): {exc}", stacklevel=2
                )
                continue
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
        done.append(png)
    return done


def build_sample(
    out_dir: Path,
    *,
    limit: int | None = None,
    size: int = 96,
    progress: bool = True,
    extracted: Path | None = None,
) -> Path:
    """Build a mixed image + text corpus from the base emojis (no skin-tone variants).

    Writes the PNGs and sidecars of :func:`rasterise` and, under ``notes/``, one markdown
    note per group that names its emojis in prose, subgroup by subgroup. ``limit`` keeps the
    first N emojis taken round-robin over the groups, so even a small sample spans every
    group. ``extracted`` uses an already unpacked package instead of calling :func:`fetch`.
    Returns ``out_dir``.
    """
    if limit is not None and limit < 0:
        raise XmodalError(f"limit must not be negative, got {limit}")
    source = extracted if extracted is not None else fetch()
    emojis = _spread(load_emojis(source), limit)
    rasterise(emojis, source, out_dir, size, progress=progress)
    notes = out_dir / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    for group, members in _by_key(emojis, lambda e: e.group).items():
        _write_text(notes / f"{_slug(group) or 'ungrouped'}.md", _group_note(group, members))
    return out_dir


# --- fetching ---------------------------------------------------------------------------


def _npm_pack(root: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise XmodalError(
            "xmodal needs npm (Node.js) to fetch the OpenMoji package: apt-get install npm"
        )
    # Packing inside the destination folder keeps the final move on one file system.
    with tempfile.TemporaryDirectory(dir=root, prefix=".npm-pack-") as tmp:
        try:
            proc = subprocess.run(
                [npm, "pack", PACKAGE_SPEC, "--silent"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=_NPM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise XmodalError(
                f"npm pack {PACKAGE_SPEC} gave no result within {_NPM_TIMEOUT_S} s; "
                "check that the npm registry is reachable"
            ) from exc
        produced = Path(tmp) / TARBALL_NAME
        if proc.returncode != 0 or not produced.is_file():
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            detail = lines[-1].strip() if lines else f"exit status {proc.returncode}"
            raise XmodalError(
                f"npm pack {PACKAGE_SPEC} failed ({detail}); "
                "check that the npm registry is reachable"
            )
        os.replace(produced, root / TARBALL_NAME)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_marker(extracted: Path) -> str | None:
    try:
        return (extracted / _MARKER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _extract(source: Path, extracted: Path, sha256: str) -> None:
    # Unpack beside the target and rename, so a reader never sees a half-written folder and
    # an interrupted run leaves nothing that looks finished.
    staging = Path(tempfile.mkdtemp(dir=extracted.parent, prefix=".extracting-"))
    try:
        _extract_members(source, staging)
        (staging / _MARKER).write_text(sha256 + "\n", encoding="ascii")
        if extracted.exists():
            stale = Path(tempfile.mkdtemp(dir=extracted.parent, prefix=".stale-"))
            os.replace(extracted, stale / "extracted")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(staging, extracted)
        except OSError:
            # Another process unpacked the same source first; its result is as good.
            if _read_marker(extracted) != sha256:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_members(source: Path, dest: Path) -> None:
    found_data = False
    svgs = 0
    try:
        with tarfile.open(source, "r:gz") as tar:
            for member in tar:
                rel = _wanted_member(member, source)
                if rel is None:
                    continue
                fileobj = tar.extractfile(member)
                if fileobj is None:
                    raise XmodalError(f"cannot read member {member.name!r} of {source}")
                target = dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with fileobj, target.open("wb") as out:
                    shutil.copyfileobj(fileobj, out)
                if rel.suffix == ".json":
                    found_data = True
                else:
                    svgs += 1
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise XmodalError(f"cannot unpack OpenMoji tarball {source}: {exc}") from exc
    if not found_data or svgs == 0:
        raise XmodalError(
            f"{source} is not an OpenMoji package: it lacks {_DATA_MEMBER} or {_SVG_PREFIX}*.svg"
        )


def _wanted_member(member: tarfile.TarInfo, source: Path) -> PurePosixPath | None:
    """The member's path under the unpacked folder, or None for members that are not needed.

    Any member that could land outside the folder makes the whole tarball suspect, so it is
    refused outright rather than skipped.
    """
    name = member.name
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
        raise XmodalError(f"refusing to unpack {source}: unsafe member name {name!r}")
    if name == _DATA_MEMBER:
        rel = PurePosixPath("data", "openmoji.json")
    elif name.startswith(_SVG_PREFIX) and _SVG_LEAF.fullmatch(name[len(_SVG_PREFIX) :]):
        rel = PurePosixPath("color", "svg", name[len(_SVG_PREFIX) :])
    else:
        return None
    if not member.isreg():
        raise XmodalError(f"refusing to unpack {source}: member {name!r} is not a regular file")
    return rel


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
        # OpenMoji SVGs contain no text, so system fonts are not needed and not loaded.
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
