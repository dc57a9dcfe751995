"""EPUB books: the text of each chapter in reading order (the package's spine), through the
HTML extractor."""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import unquote

from xmodal.errors import DecodeError
from xmodal.media.archive import open_archive, read_member
from xmodal.media.html import html_to_text
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits

_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
_HTML_TYPES = frozenset({"application/xhtml+xml", "text/html"})


@dataclass(slots=True)
class EpubText:
    title: str
    #: chapter texts in reading order; chapters without text are left out
    chapters: list[str] = field(default_factory=list)


def _xml(data: bytes, what: str) -> ET.Element:
    if b"<!ENTITY" in data:
        # entity declarations are how XML bombs work; an EPUB's package files never need them
        raise DecodeError(f"corrupt EPUB: {what} declares XML entities")
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise DecodeError(f"corrupt EPUB: {what} is not well-formed XML ({e})") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _package_path(container: ET.Element) -> str:
    for el in container.iter():
        if _local(el.tag) == "rootfile" and el.get("full-path"):
            return str(el.get("full-path"))
    raise DecodeError("corrupt EPUB: container.xml names no package file")


def _encrypted_paths(archive_names: set[str], data: bytes | None) -> set[str]:
    if data is None:
        return set()
    root = _xml(data, "encryption.xml")
    uris = {el.get("URI", "") for el in root.iter() if _local(el.tag) == "CipherReference"}
    return {unquote(u) for u in uris} & archive_names


def _spine(package: ET.Element, base: str) -> tuple[str, list[str]]:
    """The title and the archive paths of the spine's HTML documents, in reading order."""
    title = next(
        (" ".join((el.text or "").split()) for el in package.iter() if _local(el.tag) == "title"),
        "",
    )
    manifest: dict[str, tuple[str, str]] = {}
    for el in package.iter():
        if _local(el.tag) == "item" and el.get("id") and el.get("href"):
            href = posixpath.normpath(posixpath.join(base, unquote(str(el.get("href")))))
            manifest[str(el.get("id"))] = (href, el.get("media-type", ""))
    order: list[str] = []
    for el in package.iter():
        if _local(el.tag) == "itemref":
            found = manifest.get(el.get("idref", ""))
            if found and found[1] in _HTML_TYPES:
                order.append(found[0])
    return title, order


def read_epub(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> EpubText:
    """Title and chapter texts of an EPUB, at most ``limits.max_pages`` chapters."""
    archive = open_archive(data, "EPUB", limits)
    with archive:
        names = set(archive.namelist())
        package_path = _package_path(
            _xml(read_member(archive, _CONTAINER, "EPUB", limits), _CONTAINER)
        )
        package = _xml(read_member(archive, package_path, "EPUB", limits), package_path)
        title, order = _spine(package, posixpath.dirname(package_path))
        encryption = (
            read_member(archive, _ENCRYPTION, "EPUB", limits) if _ENCRYPTION in names else None
        )
        if set(order) & _encrypted_paths(names, encryption):
            raise DecodeError("encrypted EPUB (DRM): its chapters cannot be read")
        out = EpubText(title)
        size = 0
        for path in order[: limits.max_pages]:
            if path not in names:
                continue
            raw = read_member(archive, path, "EPUB", limits)
            chapter = html_to_text(raw.decode("utf-8", errors="replace"), limits).text
            if chapter:
                out.chapters.append(chapter)
                size += len(chapter)
            if size >= limits.max_text_chars:
                break
    if not out.chapters:
        raise DecodeError("no text in file")
    return out
