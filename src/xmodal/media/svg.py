"""SVG drawings rasterised with resvg at the size the encoders need, and the words they carry
(``<title>``, ``<desc>``, ``<text>``) as text attached to the picture."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zlib

from PIL import Image

from xmodal.errors import DecodeError
from xmodal.media.image import DecodedImage, to_rgb
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits

SVG_EXTENSIONS = frozenset({".svg", ".svgz"})
_WORDS = frozenset({"title", "desc", "text"})
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px|pt|mm|cm|in)?\s*$")
_UNIT_PX = {"px": 1.0, "pt": 4 / 3, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}
#: rendered size, as (width, height) ratios, of a drawing that gives none
_DEFAULT_SIZE = (1.0, 1.0)


def _inflate(data: bytes, limits: DecodeLimits) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limits.max_file_bytes + 1)
    except zlib.error as e:
        raise DecodeError(f"corrupt compressed SVG: {e}") from None
    if len(out) > limits.max_file_bytes:
        raise DecodeError(f"compressed SVG inflates past {limits.max_file_bytes} bytes")
    return out


def _length(value: str | None) -> float | None:
    m = _LENGTH.match(value or "")
    if not m:
        return None
    return float(m.group(1)) * _UNIT_PX[m.group(2) or "px"]


def _size(root: ET.Element | None) -> tuple[float, float]:
    if root is None:
        return _DEFAULT_SIZE
    w, h = _length(root.get("width")), _length(root.get("height"))
    box = (root.get("viewBox") or "").replace(",", " ").split()
    if (w is None or h is None) and len(box) == 4:
        try:
            bw, bh = float(box[2]), float(box[3])
        except ValueError:
            bw = bh = 0.0
        if bw > 0 and bh > 0:
            w, h = (w, w * bh / bw) if w else ((h * bw / bh, h) if h else (bw, bh))
    if not w or not h or w <= 0 or h <= 0:
        return _DEFAULT_SIZE
    return w, h


def _words(root: ET.Element | None) -> list[str]:
    if root is None:
        return []
    out: list[str] = []
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.rsplit("}", 1)[-1] in _WORDS:
            words = " ".join("".join(el.itertext()).split())
            if words:
                out.append(words)
    return list(dict.fromkeys(out))


def _parse(markup: str) -> ET.Element | None:
    """The SVG's element tree for its size and words; None when it cannot be read safely
    (entity declarations are how XML bombs work), in which case it is still drawn."""
    if "<!ENTITY" in markup:
        return None
    try:
        return ET.fromstring(markup)
    except ET.ParseError:
        return None


def render_svg(markup: str, width: int, height: int) -> bytes:
    """PNG bytes of ``markup`` drawn at ``width`` x ``height`` pixels."""
    import resvg_py  # deferred: the renderer is loaded only when there are drawings

    try:
        # system fonts are loaded so that the drawing's <text> is drawn as the viewer sees it
        png = bytes(resvg_py.svg_to_bytes(svg_string=markup, width=width, height=height))
    except Exception as e:  # the binding's error types beyond ValueError are undocumented
        raise DecodeError(f"corrupt SVG: {e}") from None
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise DecodeError("corrupt SVG: rendering produced no picture")
    return png


def decode_svg(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodedImage:
    """An SVG (or gzipped SVGZ) as an RGB picture whose longer side is ``limits.max_side``,
    with its title, description and text as the words embedded in it."""
    if not data.strip():
        raise DecodeError("empty file")
    if len(data) > limits.max_file_bytes:
        raise DecodeError(f"file larger than {limits.max_file_bytes} bytes")
    markup = _inflate(data, limits).decode("utf-8", errors="replace")
    if "<svg" not in markup:
        raise DecodeError("corrupt SVG: no <svg> element")
    root = _parse(markup)
    w, h = _size(root)
    scale = limits.max_side / max(w, h)
    if w * h * scale * scale > limits.max_pixels:
        scale = (limits.max_pixels / (w * h)) ** 0.5
    width, height = max(1, round(w * scale)), max(1, round(h * scale))
    png = render_svg(markup, width, height)
    try:
        im = Image.open(io.BytesIO(png), formats=["PNG"])
        im.load()
    except Exception as e:
        raise DecodeError(f"corrupt SVG: {type(e).__name__}: {e}") from None
    return DecodedImage(to_rgb(im), round(w), round(h), "SVG", _words(root))
