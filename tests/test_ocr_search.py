"""Words photographed in a picture are found by a text search (OCR joins the attached text)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from xmodal import Collection


def _photo(path: Path, words: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    im = Image.fromarray((rng.random((360, 480, 3)) * 60 + 150).astype("uint8"))
    if words:
        ImageDraw.Draw(im).text(
            (40, 150), words, fill=(20, 20, 20), font=ImageFont.load_default(size=44)
        )
    im.save(path)


def test_ocr_text_is_searchable_and_located(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    _photo(root / "IMG_0001.jpg", "PARKING TICKET", 1)
    _photo(root / "IMG_0002.jpg", "FRESH BREAD", 2)
    _photo(root / "IMG_0003.jpg", "", 3)
    col = Collection.open(tmp_path / "db")
    report = col.index([root], models=["classic", "ocr", "bm25"])
    assert report.added == 3 and col.encoder_names() == ["classic", "ocr", "bm25"]
    hits = col.search("parking", model="bm25")
    assert [Path(h.path).name for h in hits] == ["IMG_0001.jpg"]
    item = col.get(hits[0].id)
    assert item is not None
    [box] = [b for b in item.metadata["ocr"] if "PARKING" in b["text"].upper()]
    xs = [p[0] for p in box["box"]]
    assert 0 <= min(xs) < max(xs) <= 480
    blank = next(i for i in col if i.path.endswith("IMG_0003.jpg"))
    assert blank.metadata["ocr"] == []
    assert col.index([root]).unchanged == 3
