"""Walking folders: hidden files skipped, symlink loops broken, excludes honoured, and every
file that cannot be visited reported with a reason instead of stopping the walk."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xmodal.media.image import IMAGE_EXTENSIONS
from xmodal.media.text import SIDECAR_EXTENSIONS, TEXT_EXTENSIONS
from xmodal.records import Modality, Skipped

LINK_OUT_REASON = "symbolic link leads outside the indexed folders (--follow-links to index it)"


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file found by the walk, with what decides whether it changed since last time."""

    path: str
    modality: Modality
    size: int
    mtime_ns: int
    sidecars: tuple[str, ...] = ()
    signature: str = ""


@dataclass(slots=True)
class WalkResult:
    files: list[FileRef] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def display_path(path: str) -> str:
    """A path that can always be printed and stored: bytes that are not UTF-8 become escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def modality_of(path: str) -> Modality | None:
    ext = os.path.splitext(path)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return Modality.IMAGE
    if ext in TEXT_EXTENSIONS:
        return Modality.TEXT
    return None


def _sidecars_for(path: str, names_in_dir: set[str]) -> tuple[str, ...]:
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    found = []
    for cand in [stem + ext for ext in SIDECAR_EXTENSIONS] + [name + ".json"]:
        if cand in names_in_dir:
            found.append(os.path.join(folder, cand))
    return tuple(found)


def _excluded(path: str, name: str, excludes: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(name, pat) for pat in excludes)


def _signature(st: os.stat_result, side: list[os.stat_result]) -> str:
    parts = [f"{st.st_size}:{st.st_mtime_ns}"] + [f"{s.st_size}:{s.st_mtime_ns}" for s in side]
    return "|".join(parts)


def _file_ref(path: str, names: set[str], out: WalkResult) -> None:
    mod = modality_of(path)
    if mod is None:
        return
    shown = display_path(path)
    if shown != path:
        out.skipped.append(Skipped(shown, "file name is not valid UTF-8; rename it to index it"))
        return
    try:
        st = os.stat(path)
    except OSError as e:
        reason = "broken symbolic link" if os.path.islink(path) else f"cannot stat: {e.strerror}"
        out.skipped.append(Skipped(path, reason))
        return
    if not stat.S_ISREG(st.st_mode):
        out.skipped.append(Skipped(path, "not a regular file"))
        return
    if not os.access(path, os.R_OK):
        out.skipped.append(Skipped(path, "permission denied"))
        return
    sidecars: tuple[str, ...] = ()
    side_st: list[os.stat_result] = []
    if mod is Modality.IMAGE:
        sidecars = _sidecars_for(path, names)
        for s in sidecars:
            try:
                side_st.append(os.stat(s))
            except OSError:
                continue
    out.files.append(
        FileRef(path, mod, st.st_size, st.st_mtime_ns, sidecars, _signature(st, side_st))
    )


def _is_sidecar(name: str, names: set[str]) -> bool:
    """A .txt/.json beside an image of the same stem describes that image; it is not a
    document of its own."""
    stem, ext = os.path.splitext(name)
    if ext.lower() not in SIDECAR_EXTENSIONS:
        return False
    if ext.lower() == ".json" and modality_of(stem) is Modality.IMAGE and stem in names:
        return True
    return any(
        modality_of(other) is Modality.IMAGE and os.path.splitext(other)[0] == stem
        for other in names
    )


def _leaves(path: str, real_roots: Sequence[str]) -> bool:
    """Is ``path`` a symbolic link whose target lies outside every one of ``real_roots``?"""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    return not any(target == r or target.startswith(r.rstrip(os.sep) + os.sep) for r in real_roots)


def walk(
    roots: Sequence[str | Path],
    excludes: Sequence[str] = (),
    include_hidden: bool = False,
    follow_links: bool = False,
) -> WalkResult:
    """Every indexable file under ``roots`` (files may be given directly), sorted by path.

    A link that leads out of the roots is skipped unless ``follow_links``: a folder that is
    indexed must not publish whatever file a link in it names (``/etc/passwd``)."""
    out = WalkResult()
    real_roots = None if follow_links else [os.path.realpath(os.fspath(r)) for r in roots]
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    for root in roots:
        root_s = os.path.abspath(os.fspath(root))
        if not os.path.exists(root_s):
            out.skipped.append(Skipped(display_path(root_s), "no such file or directory"))
            continue
        if os.path.isfile(root_s):
            folder = os.path.dirname(root_s)
            try:
                names = set(os.listdir(folder))
            except OSError:
                names = set()
            if root_s not in seen_files:
                seen_files.add(root_s)
                _file_ref(root_s, names, out)
            continue
        walked = _walk_dir(root_s, excludes, include_hidden, seen_dirs, out, real_roots)
        for path, names in walked:
            if path not in seen_files:
                seen_files.add(path)
                _file_ref(path, names, out)
    out.files.sort(key=lambda f: f.path)
    return out


def _walk_dir(
    top: str,
    excludes: Sequence[str],
    include_hidden: bool,
    seen_dirs: set[tuple[int, int]],
    out: WalkResult,
    real_roots: Sequence[str] | None,
) -> Iterator[tuple[str, set[str]]]:
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as e:
            out.skipped.append(Skipped(display_path(folder), f"cannot open folder: {e.strerror}"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            if os.path.islink(folder):
                out.skipped.append(
                    Skipped(display_path(folder), "symbolic link loop (folder already visited)")
                )
            continue
        seen_dirs.add(key)
        try:
            entries = sorted(os.listdir(folder))
        except OSError as e:
            out.skipped.append(Skipped(display_path(folder), f"cannot list folder: {e.strerror}"))
            continue
        names = set(entries)
        subdirs = []
        for name in entries:
            if not include_hidden and name.startswith("."):
                continue
            path = os.path.join(folder, name)
            if _excluded(path, name, excludes):
                continue
            if real_roots is not None and _leaves(path, real_roots):
                out.skipped.append(Skipped(display_path(path), LINK_OUT_REASON))
                continue
            try:
                is_dir = os.path.isdir(path)
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(path)
            elif not _is_sidecar(name, names):
                yield path, names
        stack.extend(reversed(subdirs))
