"""Emoji names and keywords in other languages, from the pinned npm package ``emojibase-data``.

OpenMoji's own words are English. Emojibase publishes, per locale, each emoji's CLDR short
name (``label``) and keywords (``tags``); its ``zh/data.json`` gives the Chinese ones, so a
model can be trained and tested with words in both languages. Entries are matched to
OpenMoji's emojis by code points with U+FE0F dropped, as Twemoji's drawings are.

Emojibase's code is MIT-licensed; the names and keywords are Unicode CLDR's annotations,
under the Unicode License v3. :data:`ATTRIBUTION` says both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from xmodal.datasets import npm
from xmodal.errors import XmodalError

VERSION = "16.0.3"
PACKAGE_NAME = "emojibase-data"
TARBALL_NAME = f"emojibase-data-{VERSION}.tgz"
TARBALL_SHA256 = "cab288279075778f15b37f3ca60dfb17759af6fe29758e07338e248879991689"

#: the locales unpacked; English is OpenMoji's own, the others come from here
LOCALES = ("en", "zh")
#: what ``languages`` options accept: OpenMoji's English and the locales above
LANGUAGES = ("en", "zh")

ATTRIBUTION = (
    f"Emoji names and keywords in Chinese: emojibase-data {VERSION} (zh/data.json),\n"
    "https://emojibase.dev, MIT License, Copyright (c) 2017-2019 Miles Johnson.\n"
    "The names and keywords themselves are Unicode CLDR annotations:\n"
    "Copyright (c) 2004-2024 Unicode, Inc. Unicode License v3,\n"
    "https://www.unicode.org/license.txt\n"
)

_VS16 = 0xFE0F


@dataclass(frozen=True, slots=True)
class Names:
    """An emoji's short name and keywords in one language."""

    annotation: str
    tags: tuple[str, ...]


def _select_member(name: str) -> PurePosixPath | None:
    if name == "package/LICENSE":
        return PurePosixPath("LICENSE")
    for locale in LOCALES:
        if name == f"package/{locale}/data.json":
            return PurePosixPath(locale, "data.json")
    return None


def _check_members(unpacked: Sequence[PurePosixPath]) -> str | None:
    wanted = {PurePosixPath(locale, "data.json") for locale in LOCALES}
    if wanted <= set(unpacked):
        return None
    return f"an emojibase-data package: it lacks {', '.join(sorted(map(str, wanted)))}"


PACKAGE = npm.PinnedPackage(
    name=PACKAGE_NAME,
    version=VERSION,
    tarball_name=TARBALL_NAME,
    sha256=TARBALL_SHA256,
    title="emojibase-data",
    cache_name="emojibase-data",
    members=npm.MemberFilter(key="+".join(LOCALES), select=_select_member, check=_check_members),
)


def fetch(
    cache: Path | None = None,
    *,
    tarball: Path | None = None,
    expected_sha256: str | None = TARBALL_SHA256,
) -> Path:
    """Make sure emojibase-data is unpacked in the cache and return the unpacked folder
    (``<locale>/data.json``); works as :func:`xmodal.datasets.openmoji.fetch`."""
    return npm.fetch(PACKAGE, cache, tarball=tarball, expected_sha256=expected_sha256)


def parse_languages(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"en,zh"`` (or a list) as a checked tuple of language codes, English first."""
    items = value.split(",") if isinstance(value, str) else list(value)
    langs = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    unknown = [s for s in langs if s not in LANGUAGES]
    if unknown or not langs:
        raise XmodalError(
            f"languages must be a comma-separated list of {', '.join(LANGUAGES)}, got {value!r}"
        )
    if "en" not in langs:
        # OpenMoji's captions are English and the benchmark's queries are made of them
        raise XmodalError(f"languages must include en, got {value!r}")
    return langs


def codepoints(hexcode: str) -> tuple[int, ...]:
    try:
        points = tuple(int(part, 16) for part in hexcode.split("-"))
    except ValueError:
        raise XmodalError(f"{hexcode!r} is not a hyphenated list of hex code points") from None
    return tuple(p for p in points if p != _VS16)


def load_names(extracted: Path, locale: str) -> dict[tuple[int, ...], Names]:
    """Every emoji of ``locale`` (skin tones included) by :func:`codepoints`."""
    path = extracted / locale / "data.json"
    raw = npm.read_json_list(path, "emoji names")
    table: dict[tuple[int, ...], Names] = {}
    for entry in raw:
        _add_entry(table, entry)
        if isinstance(entry, dict):
            for skin in entry.get("skins") or ():
                _add_entry(table, skin)
    return table


def _add_entry(table: dict[tuple[int, ...], Names], entry: Any) -> None:
    if not isinstance(entry, dict):
        return
    label = str(entry.get("label") or "").strip()
    hexcode = str(entry.get("hexcode") or "")
    if not label or not hexcode:
        return
    try:
        key = codepoints(hexcode)
    except XmodalError:
        return
    tags = tuple(dict.fromkeys(str(t).strip() for t in entry.get("tags") or () if str(t).strip()))
    table.setdefault(key, Names(label, tags))


def names_for(hexcodes: Iterable[str], table: Mapping[tuple[int, ...], Names]) -> dict[str, Names]:
    """The names of each of ``hexcodes`` (OpenMoji's spelling) that ``table`` knows."""
    found: dict[str, Names] = {}
    for hexcode in hexcodes:
        try:
            names = table.get(codepoints(hexcode))
        except XmodalError:
            continue
        if names is not None:
            found[hexcode] = names
    return found
