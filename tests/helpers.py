"""Small builders shared by the tests."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw


def draw_image(color: tuple[int, int, int], shape: str = "circle", size: int = 96) -> Image.Image:
    im = Image.new("RGB", (size, size), color)
    d = ImageDraw.Draw(im)
    box = (size // 4, size // 4, 3 * size // 4, 3 * size // 4)
    if shape == "circle":
        d.ellipse(box, fill=(255, 255, 255))
    elif shape == "square":
        d.rectangle(box, fill=(0, 0, 0))
    else:
        d.polygon(
            [(size // 2, size // 8), (size // 8, 7 * size // 8), (7 * size // 8, 7 * size // 8)],
            fill=(255, 255, 0),
        )
    return im


def random_unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _shape_svg(color: str, shape: str, line: bool) -> str:
    fill = "none" if line else color
    stroke = 'stroke="#000" stroke-width="4"' if line else ""
    body = (
        f'<circle cx="36" cy="36" r="26" fill="{fill}" {stroke}/>'
        if shape == "circle"
        else f'<rect x="12" y="12" width="48" height="48" fill="{fill}" {stroke}/>'
    )
    return f'<svg viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">{body}</svg>'


def fake_openmoji(root: Path) -> Path:
    """An unpacked OpenMoji package in miniature: 12 coloured shapes (every fourth without
    tags), in colour and as black line art, with the metadata file."""

    for sub in ("data", "color/svg", "black/svg"):
        (root / sub).mkdir(parents=True)
    colors = ("#d01010", "#1030d0", "#10a020", "#e0d010", "#8020a0", "#101010")
    entries = []
    for n, (color, shape) in enumerate((c, s) for c in colors for s in ("circle", "rect")):
        hexcode = f"1F{0x600 + n:03X}"
        entries.append(
            {
                "emoji": "?",
                "hexcode": hexcode,
                "group": "symbols",
                "subgroups": shape,
                "annotation": f"{shape} number {n}",
                "tags": "" if n % 4 == 0 else f"{shape}, colour {color}",
                "openmoji_tags": "",
                "skintone": "",
                "skintone_base_hexcode": "",
            }
        )
        (root / "color/svg" / f"{hexcode}.svg").write_text(_shape_svg(color, shape, False))
        (root / "black/svg" / f"{hexcode}.svg").write_text(_shape_svg(color, shape, True))
    (root / "data" / "openmoji.json").write_text(json.dumps(entries))
    return root


#: Chinese names of fake_openmoji's shapes: 圆 circle, 方块 square
_ZH_SHAPE = {"circle": "圆", "rect": "方块"}


def fake_emoji_names(root: Path) -> Path:
    """An unpacked emojibase-data package in miniature: English and Chinese names of
    fake_openmoji's emojis, one written with U+FE0F and one with a skin tone, as the real
    data does."""
    entries: dict[str, list[dict[str, Any]]] = {"en": [], "zh": []}
    for n in range(12):
        shape = ("circle", "rect")[n % 2]
        hexcode = f"1F{0x600 + n:03X}" + ("-FE0F" if n == 3 else "")
        for lang, name in (("en", f"{shape} number {n}"), ("zh", f"{_ZH_SHAPE[shape]}{n}号")):
            entry: dict[str, Any] = {"label": name, "hexcode": hexcode, "tags": [name, "形状"]}
            if n == 5:
                entry["skins"] = [{"label": f"{name} 1", "hexcode": f"{hexcode}-1F3FB"}]
            entries[lang].append(entry)
    for lang, rows in entries.items():
        (root / lang).mkdir(parents=True, exist_ok=True)
        (root / lang / "data.json").write_text(json.dumps(rows, ensure_ascii=False))
    return root


def openmoji_entry(hexcode: str, annotation: str, subgroup: str, **extra: Any) -> dict[str, Any]:
    """One record of OpenMoji's ``openmoji.json``, tagged with the annotation's first word."""
    entry: dict[str, Any] = {
        "emoji": "?",
        "hexcode": hexcode,
        "group": "test-group",
        "subgroups": subgroup,
        "annotation": annotation,
        "tags": f"{annotation.split()[0]}, thing",
        "openmoji_tags": "",
        "skintone": "",
        "skintone_base_hexcode": "",
    }
    entry.update(extra)
    return entry


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = 1 if kind == tarfile.REGTYPE else 0
    return info


def add_members(tar: tarfile.TarFile, members: Iterable[tarfile.TarInfo]) -> None:
    """Add members built by :func:`tar_member` as they are, regular files with filler bytes."""
    for info in members:
        if info.isreg():
            tar.addfile(info, io.BytesIO(b"x" * info.size))
        else:
            tar.addfile(info)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fake_npm(
    tmp_path: Path, tarball: Path, tarball_name: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Put first on PATH an ``npm`` whose ``pack`` hands over ``tarball`` as ``tarball_name``
    in the working folder; returns the file its arguments are logged to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    log = tmp_path / "npm-args"
    npm.write_text(f'#!/bin/sh\necho "$@" > "{log}"\ncp "{tarball}" "$PWD/{tarball_name}"\n')
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log
