from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from helpers import draw_image
from xmodal.errors import DecodeError
from xmodal.media.image import decode_image, filename_words
from xmodal.media.limits import DecodeLimits
from xmodal.media.text import decode_text, passages, sidecar_text
from xmodal.media.walk import walk
from xmodal.records import Modality


def _png(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def _huge_png_header(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))


def test_pixel_cap_is_checked_before_decoding_without_global_state() -> None:
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(DecodeError, match=r"50000x50000|too large"):
        decode_image(_huge_png_header(50_000, 50_000))
    small_cap = DecodeLimits(max_pixels=100)
    with pytest.raises(DecodeError, match="over the limit"):
        decode_image(_png(draw_image((1, 2, 3))), small_cap)
    assert before == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"just some text, not a picture", "not a supported image"),
        (_png(draw_image((9, 9, 9)))[:60], "truncated|corrupt"),
    ],
)
def test_bad_images_raise_decode_error(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_image(data)


def test_disallowed_format_is_refused() -> None:
    buf = io.BytesIO()
    draw_image((1, 2, 3)).save(buf, "PCX")
    with pytest.raises(DecodeError, match="not a supported"):
        decode_image(buf.getvalue())


def test_modes_are_normalised_to_rgb() -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    out = decode_image(_png(rgba)).image
    assert out.mode == "RGB" and out.getpixel((0, 0)) == (255, 255, 255)  # transparent -> white
    deep = Image.new("I;16", (8, 8), 65535)
    assert decode_image(_png(deep)).image.getpixel((0, 0)) == (255, 255, 255)
    cmyk = io.BytesIO()
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(cmyk, "JPEG")
    r, g, b = decode_image(cmyk.getvalue()).image.getpixel((4, 4))
    assert r > 200 and g < 60 and b < 60
    pal = draw_image((0, 0, 200)).convert("P")
    assert decode_image(_png(pal)).image.mode == "RGB"


def test_exif_orientation_and_text() -> None:
    im = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    exif[0x010E] = "sunset over the bay"
    exif[0x9C9E] = "holiday;sea".encode("utf-16-le") + b"\0\0"
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif)
    out = decode_image(buf.getvalue())
    assert out.image.size == (20, 40)
    assert "sunset over the bay" in out.embedded_text
    assert {"holiday", "sea"} <= set(out.embedded_text)


def test_large_images_are_scaled_down() -> None:
    out = decode_image(_png(Image.new("RGB", (3000, 1000), (1, 1, 1))), DecodeLimits(max_side=300))
    assert max(out.image.size) == 300 and (out.width, out.height) == (3000, 1000)


def test_animated_gif_first_frame() -> None:
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    px = decode_image(buf.getvalue()).image.getpixel((5, 5))
    assert px[0] > 200 and px[1] < 50


def test_filename_words() -> None:
    assert filename_words("IMG_20240101_123456") == ""
    assert filename_words("redBicycle-on_the-beach") == "red bicycle on the beach"
    assert filename_words("1F431-cat-face") == "cat face"
    assert filename_words("DSC0042 猫") == "dsc0042 猫" or "猫" in filename_words("DSC0042 猫")


def test_text_decoding() -> None:
    assert decode_text("héllo".encode()) == "héllo"
    assert decode_text("héllo".encode("latin-1")) == "héllo"
    assert decode_text("\ufeffbom".encode()) == "bom"
    assert decode_text("wide".encode("utf-16")) == "wide"
    with pytest.raises(DecodeError, match="binary"):
        decode_text(b"abc\x00\x01\x02")
    with pytest.raises(DecodeError, match="empty"):
        decode_text(b"  \n ")


def test_passages_cover_the_text_in_order() -> None:
    text = "\n\n".join(" ".join(f"w{p}_{i}" for i in range(50)) for p in range(10))
    chunks = passages(text, 120)
    assert " ".join(chunks).split() == text.split()
    assert all(len(c.split()) <= 120 for c in chunks)
    assert passages("one paragraph only") == ["one paragraph only"]


def test_sidecars() -> None:
    assert sidecar_text(b"a caption\n", ".txt") == "a caption"
    js = b'{"caption": "two cats", "tags": ["pets", "sofa"], "other": 3}'
    assert sidecar_text(js, ".json") == "two cats. pets, sofa"
    assert sidecar_text(b"[1, 2]", ".json") == ""
    assert sidecar_text(b"{not json", ".json") == ""


def test_walk(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    draw_image((1, 1, 1)).save(tmp_path / "a" / "x.png")
    (tmp_path / "a" / "x.txt").write_text("caption of x")
    (tmp_path / "a" / "doc.md").write_text("a doc")
    (tmp_path / "a" / "skip.me.png").write_bytes(b"x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.md").write_text("hidden")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    (tmp_path / "a" / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "a" / "other.bin").write_bytes(b"\0")
    w = walk([tmp_path], excludes=["skip.*"])
    paths = {os.path.relpath(f.path, tmp_path): f for f in w.files}
    assert set(paths) == {"a/x.png", "a/doc.md"}
    assert paths["a/x.png"].sidecars == (str(tmp_path / "a" / "x.txt"),)
    assert paths["a/x.png"].modality is Modality.IMAGE
    reasons = {os.path.relpath(s.path, tmp_path): s.reason for s in w.skipped}
    assert "broken symbolic link" in reasons["a/dangling.png"]
    assert "loop" in reasons["a/loop"]
    with_hidden = walk([tmp_path], include_hidden=True)
    assert any(f.path.endswith("h.md") for f in with_hidden.files)
    assert walk([tmp_path / "missing"]).skipped[0].reason == "no such file or directory"
