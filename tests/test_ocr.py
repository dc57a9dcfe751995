"""Reading text out of pixels with the bundled RapidOCR models."""

from __future__ import annotations

import difflib
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from xmodal.encoders.base import TextBox
from xmodal.encoders.ocr import (
    OCR_INFO,
    RapidOcrExtractor,
    _pad_to_aspect,
    make_ocr,
    reading_order,
)
from xmodal.errors import UsageError
from xmodal.fonts import covering_font

pytestmark = pytest.mark.skipif(
    not OCR_INFO.available()[0], reason=f"OCR unavailable: {OCR_INFO.available()[1]}"
)


@pytest.fixture(scope="module")
def ocr() -> RapidOcrExtractor:
    return RapidOcrExtractor()


def background(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A photo-like ground: smooth colour waves with sensor noise."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack(
        [
            120 + 50 * np.sin(x / 50),
            140 + 40 * np.cos(y / 40),
            100 + 40 * np.sin((x + y) / 70),
        ],
        axis=-1,
    )
    base += np.random.default_rng(seed).normal(0, 10, base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def with_words(
    im: Image.Image,
    lines: list[tuple[tuple[int, int], str]],
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None = None,
    fill: tuple[int, ...] = (15, 15, 25),
    angle: float = 2.0,
) -> Image.Image:
    font = font or ImageFont.load_default(size=40)
    d = ImageDraw.Draw(im)
    for xy, text in lines:
        d.text(xy, text, fill=fill, font=font)
    if angle:
        im = im.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=(128, 128, 128))
    return im


def squash(s: str) -> str:
    return "".join(s.upper().split())


def close(a: str, b: str, ratio: float = 0.8) -> bool:
    return difflib.SequenceMatcher(None, squash(a), squash(b)).ratio() >= ratio


def inside(box: TextBox, w: int, h: int) -> bool:
    return len(box.box) == 4 and all(0 <= x <= w and 0 <= y <= h for x, y in box.box)


def test_reads_words_in_reading_order(ocr: RapidOcrExtractor) -> None:
    im = with_words(
        background((480, 240)), [((30, 40), "PARKING TICKET"), ((30, 140), "Gate 7 exit")]
    )
    (boxes,) = ocr.extract([im])
    texts = [b.text for b in boxes]
    assert len(boxes) == 2, texts
    assert close(texts[0], "PARKING TICKET") and close(texts[1], "Gate 7 exit"), texts
    for b in boxes:
        assert inside(b, *im.size) and 0.5 <= b.score <= 1.0
    # the first line's box sits where the first line was drawn
    ys = [y for _, y in boxes[0].box]
    assert min(ys) > 20 and max(ys) < 110


def test_an_image_without_text_reads_nothing(ocr: RapidOcrExtractor) -> None:
    assert ocr.extract([background((320, 240), seed=3), Image.new("RGB", (200, 100))]) == [[], []]
    assert ocr.extract([]) == []


def test_colour_modes_tiny_and_transparent_images(ocr: RapidOcrExtractor) -> None:
    words = [((20, 30), "HELLO WORLD")]
    grey = with_words(background((360, 120)), words).convert("L")
    # black words on a fully transparent page: readable only if transparency becomes white
    clear = Image.new("RGBA", (360, 120), (0, 0, 0, 0))
    clear = with_words(clear, words, fill=(0, 0, 0, 255), angle=0)
    odd = [
        grey,
        clear,
        Image.new("RGB", (1, 1), (255, 0, 0)),
        Image.new("RGBA", (1, 1)),
        Image.new("1", (40, 3)),
        Image.fromarray(np.arange(64 * 64, dtype=np.int32).reshape(64, 64), mode="I"),
    ]
    results = ocr.extract(odd)
    assert len(results) == len(odd)
    for got in results[:2]:
        assert len(got) == 1 and close(got[0].text, "HELLO WORLD"), got
    for got, im in zip(results, odd, strict=True):
        assert all(inside(b, *im.size) for b in got)
    assert results[2] == [] and results[3] == []


def test_a_large_image_is_read_and_boxes_are_in_its_own_coordinates() -> None:
    big = Image.new("RGB", (3200, 1600), (235, 235, 225))
    font = ImageFont.load_default(size=160)
    big = with_words(big, [((2000, 1200), "EXIT 12")], font=font, angle=0)
    (boxes,) = RapidOcrExtractor(max_side=800).extract([big])
    assert len(boxes) == 1 and close(boxes[0].text, "EXIT 12"), boxes
    xs = [x for x, _ in boxes[0].box]
    ys = [y for _, y in boxes[0].box]
    assert inside(boxes[0], 3200, 1600)
    assert 1900 < min(xs) < 2100 and 1150 < min(ys) < 1300 and max(xs) > 2400


def test_long_thin_strips_are_padded_not_blown_up(ocr: RapidOcrExtractor) -> None:
    tall = np.full((2400, 60, 3), 200, dtype=np.uint8)
    padded = _pad_to_aspect(tall, 4.0)
    assert padded.shape == (2400, 600, 3) and np.array_equal(padded[:, :60], tall)
    wide = np.full((30, 1000, 3), 10, dtype=np.uint8)
    assert _pad_to_aspect(wide, 4.0).shape == (250, 1000, 3)
    square = np.zeros((50, 60, 3), dtype=np.uint8)
    assert _pad_to_aspect(square, 4.0) is square
    assert ocr.extract([Image.fromarray(tall)]) == [[]]


def test_reading_order_groups_lines() -> None:
    def box(x: float, y: float, w: float = 50, h: float = 20, tilt: float = 0) -> TextBox:
        pts = ((x, y), (x + w, y - tilt), (x + w, y + h - tilt), (x, y + h))
        return TextBox(text=f"{x:g},{y:g}", box=pts, score=0.9)

    line1 = [box(10, 10), box(80, 14, tilt=3), box(150, 8)]
    line2 = [box(12, 40), box(90, 43)]
    shuffled = [line2[1], line1[2], line1[0], line2[0], line1[1]]
    assert reading_order(shuffled) == line1 + line2
    assert reading_order([]) == []


def test_concurrent_calls_agree(ocr: RapidOcrExtractor) -> None:
    im = with_words(background((320, 120), seed=5), [((20, 40), "OPEN 24H")], angle=0)
    expected = ocr.extract([im])
    got: list[list[list[TextBox]]] = []
    threads = [threading.Thread(target=lambda: got.append(ocr.extract([im]))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [expected, expected]


def test_reads_chinese() -> None:
    font_file = covering_font(ord("停"))
    if font_file is None:
        pytest.skip("no installed font has Chinese glyphs (fc-list :charset=505c is empty)")
    font = ImageFont.truetype(font_file, size=44)
    im = with_words(background((420, 160)), [((30, 50), "停车收费票据")], font=font)
    (boxes,) = RapidOcrExtractor().extract([im])
    assert boxes and close("".join(b.text for b in boxes), "停车收费票据", 0.7), boxes


def test_spec_name_and_arguments() -> None:
    ex = make_ocr(None)
    assert ex.name == "ocr" and ex.spec.dim == 0
    assert ex.spec.weights.startswith("rapidocr-onnxruntime==")
    assert ex.spec.preprocessing["threshold"] == 0.5
    assert OCR_INFO.family == "ocr" and OCR_INFO.languages == ("zh", "en")
    with pytest.raises(UsageError):
        make_ocr("fast")
    with pytest.raises(UsageError):
        RapidOcrExtractor(threshold=1.5)


def test_importing_the_module_loads_no_model() -> None:
    code = (
        "import sys, xmodal.encoders.ocr as o; o.make_ocr(None).spec; o.OCR_INFO.available(); "
        "print(sorted(m for m in ('onnxruntime', 'rapidocr_onnxruntime', 'cv2') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
