"""A font that can draw a given text: Pillow's built-in one for Latin script, otherwise a
system font that covers the text's first character outside it, found through fontconfig.

Pillow's default font draws Latin letters only; Chinese query labels and file names came out
as empty boxes. Nothing is bundled or downloaded: a machine without such a font keeps the
default, and the text is still written in the terminal's printout.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from PIL import ImageFont

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

#: Pillow's default font covers Latin script up to Latin Extended-B
_LATIN_END = 0x250
#: the default font's size, which a fallback font matches
SIZE = 10
#: where CJK fonts sit on systems without fontconfig (macOS, Windows)
_KNOWN = (
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
)


def font_for(text: str) -> Font:
    """A font for ``text``: the default unless the text leaves Latin script and a system font
    covers the first character that does."""
    first = next((ch for ch in text if ord(ch) >= _LATIN_END and not ch.isspace()), None)
    path = covering_font(ord(first)) if first is not None else None
    return (_truetype(path) if path is not None else None) or default_font()


# loaded once per process: a sheet asks for a font per label and caption, and a CJK font file
# runs to tens of megabytes; sheets are drawn on one thread
@functools.lru_cache(maxsize=1)
def default_font() -> Font:
    """Pillow's built-in font."""
    return ImageFont.load_default()


@functools.lru_cache(maxsize=8)
def _truetype(path: str) -> Font | None:
    try:
        return ImageFont.truetype(path, size=SIZE + 1)
    except OSError:  # listed by fontconfig but not readable by FreeType
        return None


@functools.lru_cache(maxsize=64)
def covering_font(codepoint: int) -> str | None:
    """The file of an installed font that has a glyph for ``codepoint``, or None."""
    if shutil.which("fc-list") is not None:
        try:
            out = subprocess.run(
                ["fc-list", f":charset={codepoint:x}", "file"],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        # sorted so that the same machine always draws with the same font
        files = sorted(line.split(":")[0].strip() for line in out.splitlines() if line.strip())
        if files:
            return files[0]
    if 0x2E80 <= codepoint <= 0x9FFF or 0xF900 <= codepoint <= 0xFAFF:
        return next((p for p in _KNOWN if Path(p).is_file()), None)
    return None
