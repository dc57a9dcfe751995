"""Sonic Pi's samples, as the npm package ``supersonic-scsynth-samples`` ships them: 206 short
FLAC recordings (drums, tabla, basses, ambient pads, electronic blips, loops...) named by
category: ``tabla_ghe1.flac``, ``bd_808.flac``, ``ambi_choir.flac``. The first word of a name is
the category, which makes a labelled set for "sounds like this" and "find the sound this word
names" without anyone labelling it.

The samples are CC0 (public domain); the package's README names each one's origin
(freesound.org, and Arovane for the ``arovane_`` beats). One sample is also shipped as AIFF
(``bd_haus.aiff``, the same drum as ``bd_haus.flac``): only the FLAC files are unpacked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from xmodal.datasets import npm
from xmodal.errors import XmodalError

VERSION = "0.84.2"
PACKAGE_NAME = "supersonic-scsynth-samples"
TARBALL_NAME = f"{PACKAGE_NAME}-{VERSION}.tgz"
TARBALL_SHA256 = "aff0b03208adb5dc7612dc7a4e86d55161188326bcff4dbc2d20ce9e1b94238c"
#: how many FLAC samples the pinned version holds
SAMPLE_COUNT = 206

#: the words each category's short name stands for, as a person would ask for the sound;
#: ``arovane`` and ``mehackit`` are the names of whoever gave the samples, kept as they are
CATEGORY_WORDS: dict[str, str] = {
    "ambi": "ambient",
    "arovane": "arovane beat",
    "bass": "bass",
    "bd": "bass drum",
    "drum": "drum kit",
    "elec": "electronic",
    "glitch": "glitch",
    "guit": "guitar",
    "hat": "hi-hat",
    "loop": "loop",
    "mehackit": "mehackit",
    "misc": "miscellaneous",
    "perc": "percussion",
    "ride": "ride cymbal",
    "sn": "snare",
    "tabla": "tabla",
    "tbd": "pad",
    "vinyl": "vinyl",
}

_MEMBER = re.compile(r"package/samples/([a-z0-9]+(?:_[A-Za-z0-9]+)*\.flac)")
_KEEP = {"package/README.md": "README.md", "package/LICENSE": "LICENSE"}


def _select_member(name: str) -> PurePosixPath | None:
    match = _MEMBER.fullmatch(name)
    if match:
        return PurePosixPath("samples", match.group(1))
    kept = _KEEP.get(name)
    return PurePosixPath(kept) if kept else None


def _check_members(unpacked: Sequence[PurePosixPath]) -> str | None:
    flacs = [p for p in unpacked if p.parts[0] == "samples"]
    if len(flacs) == SAMPLE_COUNT:
        return None
    return f"the {PACKAGE_NAME} package: it has {len(flacs)} FLAC samples, not {SAMPLE_COUNT}"


PACKAGE = npm.PinnedPackage(
    name=PACKAGE_NAME,
    version=VERSION,
    tarball_name=TARBALL_NAME,
    sha256=TARBALL_SHA256,
    title="Sonic Pi samples",
    cache_name="supersonic-samples",
    members=npm.MemberFilter(key="flac", select=_select_member, check=_check_members),
)


def fetch(
    cache: Path | None = None,
    *,
    tarball: Path | None = None,
    expected_sha256: str | None = TARBALL_SHA256,
) -> Path:
    """Make sure the samples are unpacked in the cache and return the unpacked folder, which
    holds ``samples/*.flac``, the package's ``README.md`` (the samples' origins) and
    ``LICENSE``, in ``<cache>/supersonic-samples/<version>/``."""
    return npm.fetch(PACKAGE, cache, tarball=tarball, expected_sha256=expected_sha256)


def category(path: str | Path) -> str:
    """The category a sample's file name starts with: ``tabla_ghe1.flac`` is ``tabla``."""
    stem = Path(path).stem
    head = stem.split("_", 1)[0].lower()
    if "_" not in stem or not head:
        raise XmodalError(f"{Path(path).name} does not start with a category and '_'")
    return head


def labelled(folder: Path, pattern: str = "*.flac") -> list[tuple[Path, str]]:
    """Every recording in ``folder`` matching ``pattern`` with its category, in name order."""
    found = sorted(folder.glob(pattern))
    if not found:
        raise XmodalError(f"no recordings matching {pattern} in {folder}")
    return [(p, category(p)) for p in found]
