"""Small PNG copies of result images, written beside the report page."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xmodal.atomic import atomic_write_bytes

# Thumbnails are stored at twice the size they are shown, to stay sharp on dense screens.
THUMB_SIZE = 224
THUMB_DIR = "thumbs"


@dataclass(frozen=True, slots=True)
class Thumb:
    """A written thumbnail: its path relative to the page, and its pixel size."""

    src: str
    width: int
    height: int


class Thumbnails:
    """Copies each document's image once into ``thumbs/`` as a small PNG."""

    def __init__(self, out_dir: Path, source: Callable[[str], Path | None] | None) -> None:
        self._dir = out_dir / THUMB_DIR
        self._source = source
        self._done: dict[str, Thumb | None] = {}

    def get(self, docid: str) -> Thumb | None:
        if self._source is None:
            return None
        if docid not in self._done:
            path = self._source(docid)
            self._done[docid] = self._make(docid, Path(path)) if path is not None else None
        return self._done[docid]

    def _make(self, docid: str, path: Path) -> Thumb | None:
        from PIL import Image, ImageOps

        try:
            with Image.open(path) as opened:
                # JPEG can decode at a fraction of full size, far cheaper for big photos
                opened.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))
                im = ImageOps.exif_transpose(opened)
                # Convert before shrinking: palette and bilevel images would otherwise be
                # resized with nearest-neighbour sampling and look ragged.
                if im.mode not in ("L", "RGB", "RGBA"):
                    alpha = "A" in im.getbands() or "transparency" in im.info
                    im = im.convert("RGBA" if alpha else "RGB")
                im.thumbnail((THUMB_SIZE, THUMB_SIZE))
                buf = io.BytesIO()
                im.save(buf, format="PNG", optimize=True)
                size = im.size
        except (OSError, ValueError, EOFError, Image.DecompressionBombError):
            # An unreadable image is shown by its label instead; the report still renders.
            return None
        # A digest makes a safe, stable file name out of any document id.
        digest = hashlib.sha256(docid.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        self._dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self._dir / f"{digest}.png", buf.getvalue())
        return Thumb(f"{THUMB_DIR}/{digest}.png", size[0], size[1])
