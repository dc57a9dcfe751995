"""Walking folders: hidden files skipped, symlink loops broken, excludes honoured, and every
file that cannot be visited reported with a reason instead of stopping the walk."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xmodal.media.audio import AUDIO_EXTENSIONS
from xmodal.media.documents import DOCUMENT_EXTENSIONS
from xmodal.media.image import IMAGE_EXTENSIONS
from xmodal.media.sniff import HEAD_BYTES, text_encoding
from xmodal.media.svg import SVG_EXTENSIONS
from xmodal.media.text import SIDECAR_EXTENSIONS, TEXT_EXTENSIONS
from xmodal.media.video import VIDEO_EXTENSIONS
from xmodal.media.video_segments import SUBTITLE_EXTENSIONS, subtitle_sidecars
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
    """The modality a file's extension names; None when the name does not tell."""
    ext = os.path.splitext(path)[1].lower()
    if ext in IMAGE_EXTENSIONS or ext in SVG_EXTENSIONS:
        return Modality.IMAGE
    if ext in TEXT_EXTENSIONS or ext in DOCUMENT_EXTENSIONS:
        return Modality.TEXT
    if ext in AUDIO_EXTENSIONS:
        return Modality.AUDIO
    if ext in VIDEO_EXTENSIONS:
        return Modality.VIDEO
    return None


def _not_text(path: str, size: int) -> str | None:
    """Why a file whose name does not tell its type is not indexed; None when its first
    bytes read as text, which makes it a text document."""
    if size == 0:
        return "empty file"
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    if text_encoding(head) is not None:
        return None
    ext = os.path.splitext(path)[1].lower()
    return f"unsupported type ({ext or 'no extension'})"


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
    if mod is None:
        why = _not_text(path, st.st_size)
        if why is not None:
            out.skipped.append(Skipped(path, why))
            return
        mod = Modality.TEXT
    sidecars: tuple[str, ...] = ()
    side_st: list[os.stat_result] = []
    if mod is Modality.IMAGE or mod is Modality.VIDEO:
        sidecars = (
            _sidecars_for(path, names) if mod is Modality.IMAGE else subtitle_sidecars(path, names)
        )
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
    if ext.lower() in SUBTITLE_EXTENSIONS:
        # movie.srt, movie.en.vtt beside movie.mp4 are the video's subtitles
        stems = {stem, stem.rsplit(".", 1)[0]}
        return any(
            modality_of(other) is Modality.VIDEO and os.path.splitext(other)[0] in stems
            for other in names
        )
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
    seen_dirs: dict[tuple[int, int], str] = {}
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


def _revisit(link: str, first: str) -> str:
    """Why a linked folder already visited is not walked again: a loop when it points at a
    folder it lies in (following it would never end), a duplicate otherwise."""
    target = os.path.realpath(link)
    inside = os.path.realpath(os.path.dirname(link))
    if inside == target or inside.startswith(target.rstrip(os.sep) + os.sep):
        return "symbolic link loop (folder already visited)"
    return f"duplicate link: already indexed through {display_path(first)}"


def _walk_dir(
    top: str,
    excludes: Sequence[str],
    include_hidden: bool,
    seen_dirs: dict[tuple[int, int], str],
    out: WalkResult,
    real_roots: Sequence[str] | None,
) -> Iterator[tuple[str, set[str]]]:
    stack = [top]
    # linked folders are walked after every real one, so that a link to a folder that is
    # also reached directly is the one reported as the duplicate
    linked: list[str] = []
    while stack or linked:
        folder = stack.pop() if stack else linked.pop(0)
        try:
            st = os.stat(folder)
        except OSError as e:
            out.skipped.append(Skipped(display_path(folder), f"cannot open folder: {e.strerror}"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            if os.path.islink(folder):
                out.skipped.append(Skipped(display_path(folder), _revisit(folder, seen_dirs[key])))
            continue
        seen_dirs[key] = folder
        try:
            entries = sorted(os.listdir(folder))
        except OSError as e:
            out.skipped.append(Skipped(display_path(folder), f"cannot list folder: {e.strerror}"))
            continue
        names = set(entries)
        subdirs: list[str] = []
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
                (linked if os.path.islink(path) else subdirs).append(path)
            elif not _is_sidecar(name, names):
                yield path, names
        stack.extend(reversed(subdirs))
