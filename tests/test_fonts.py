"""Labels outside Latin script are drawn with an installed font that has their glyphs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image, ImageFont

from xmodal import fonts
from xmodal.contact_sheet import LABEL_W, queries_sheet

pytestmark = pytest.mark.skipif(shutil.which("fc-list") is None, reason="needs fontconfig")

WORDS = "一只猫"


def _box_font(path: Path) -> Path:
    """A TrueType font whose only glyphs are filled squares for the three characters."""
    pen = TTGlyphPen(None)
    pen.moveTo((100, 0))
    for corner in ((100, 800), (900, 800), (900, 0)):
        pen.lineTo(corner)
    pen.closePath()
    square = pen.glyph()
    names = {ord(ch): f"uni{ord(ch):04X}" for ch in WORDS}
    order = [".notdef", *names.values()]
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap(names)
    fb.setupGlyf({n: square if n in names.values() else TTGlyphPen(None).glyph() for n in order})
    fb.setupHorizontalMetrics({n: (1000, 100) for n in order})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Xmodal Box Test", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    fb.setupPost()
    fb.save(str(path))
    return path


def _fontconfig(tmp: Path, monkeypatch: pytest.MonkeyPatch, font_dir: Path) -> None:
    conf = tmp / f"{font_dir.name}.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>{font_dir}</dir><cachedir>{tmp / 'fc-cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    fonts.covering_font.cache_clear()


def _label(sheet: Path) -> np.ndarray:
    with Image.open(sheet) as im:
        return np.asarray(im.convert("L"))[:, :LABEL_W]


def test_a_chinese_label_is_drawn_with_a_font_that_has_its_glyphs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    font = _box_font(tmp_path / "with" / "box.ttf")

    _fontconfig(tmp_path, monkeypatch, tmp_path / "with")
    assert fonts.covering_font(ord("猫")) == str(font)
    chosen = fonts.font_for(f"query: {WORDS}")
    assert isinstance(chosen, ImageFont.FreeTypeFont) and chosen.path == str(font)
    drawn = _label(queries_sheet([(WORDS, [])], tmp_path / "with.png"))

    # with no font that covers the words the sheet falls back to the default one
    _fontconfig(tmp_path, monkeypatch, tmp_path / "without")
    assert fonts.covering_font(ord("猫")) is None
    fallback = _label(queries_sheet([(WORDS, [])], tmp_path / "without.png"))

    # three filled squares, side by side, where the default font leaves outlines
    dark = drawn < 128
    assert dark.sum() > 2 * (fallback < 128).sum()
    rows = np.flatnonzero(dark.any(axis=1))
    columns = dark[rows[0] : rows[-1] + 1].all(axis=0)
    runs = np.flatnonzero(np.diff(np.concatenate([[0], columns.astype(int), [0]])) == 1)
    assert len(runs) == len(WORDS)

    # Latin text keeps the built-in font and asks nothing of fontconfig
    def no_lookup(codepoint: int) -> str | None:
        raise AssertionError(f"looked up a font for U+{codepoint:04X}")

    monkeypatch.setattr(fonts, "covering_font", no_lookup)
    latin, default = fonts.font_for("red heart, naïve"), ImageFont.load_default()
    assert isinstance(latin, ImageFont.FreeTypeFont) and isinstance(default, ImageFont.FreeTypeFont)
    assert latin.getname() == default.getname()
