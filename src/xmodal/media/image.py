"""Safe image decoding: formats restricted, pixels capped before decoding, orientation and
colour mode normalised, and the words that travel inside the file (EXIF, XMP) extracted."""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from xmodal.errors import DecodeError
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits

try:  # HEIC/HEIF support is optional: pip install 'xmodal[heif]'
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the install
    HEIF_AVAILABLE = False

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
)

_EXIF_DESCRIPTION = 0x010E
_EXIF_ARTIST = 0x013B
_EXIF_USER_COMMENT = 0x9286
_EXIF_XP_TITLE = 0x9C9B
_EXIF_XP_COMMENT = 0x9C9C
_EXIF_XP_KEYWORDS = 0x9C9E
_EXIF_XP_SUBJECT = 0x9C9F
_EXIF_IFD = 0x8769
_EXIF_ORIENTATION = 0x0112
_ORIENTATIONS_SWAPPING_AXES = frozenset({5, 6, 7, 8})
_XMP_MAX_BYTES = 1_000_000
#: ISO base media brands of HEIC/HEIF still pictures and sequences
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_HEIF_FIX = "HEIC/HEIF image: support for it is optional; pip install 'xmodal[heif]'"


@dataclass(slots=True)
class DecodedImage:
    image: Image.Image
    width: int
    height: int
    format: str
    embedded_text: list[str] = field(default_factory=list)


def to_rgb(im: Image.Image) -> Image.Image:
    """Any mode to 8-bit RGB; transparency is composited on white, deep greys rescaled."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        low = 0.0 if im.mode.startswith("I;16") else min(float(arr.min()), 0.0)
        scaled = np.clip((arr - low) / (top - low) * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, mode="L").convert("RGB")
    if im.mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode != "RGB":
        return im.convert("RGB")
    return im


def _decode_xp(value: object) -> str:
    # Windows XP* tags hold UTF-16LE bytes, sometimes as a tuple of ints.
    if isinstance(value, tuple):
        value = bytes(value)
    if isinstance(value, bytes):
        return value.decode("utf-16-le", errors="ignore").rstrip("\x00")
    return str(value)


def _decode_user_comment(value: object) -> str:
    if isinstance(value, bytes):
        head, body = value[:8], value[8:]
        if head.startswith(b"UNICODE"):
            return body.decode("utf-16", errors="ignore").rstrip("\x00")
        return body.decode("utf-8", errors="ignore").rstrip("\x00")
    return str(value)


def _exif_text(im: Image.Image) -> list[str]:
    out: list[str] = []
    try:
        exif = im.getexif()
    except Exception:
        return out
    for tag in (_EXIF_DESCRIPTION, _EXIF_ARTIST):
        v = exif.get(tag)
        if v:
            out.append(str(v).strip("\x00 "))
    for tag in (_EXIF_XP_TITLE, _EXIF_XP_SUBJECT, _EXIF_XP_COMMENT):
        v = exif.get(tag)
        if v:
            out.append(_decode_xp(v))
    kw = exif.get(_EXIF_XP_KEYWORDS)
    if kw:
        out.extend(k.strip() for k in _decode_xp(kw).split(";"))
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        v = sub.get(_EXIF_USER_COMMENT)
        if v:
            out.append(_decode_user_comment(v))
    except Exception:
        pass
    return [t for t in (s.strip() for s in out) if t]


_XMP_WANTED = {"description", "title", "subject", "Headline", "Keywords"}


def _xmp_text(im: Image.Image) -> list[str]:
    raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if not raw:
        return []
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="ignore")
    if len(raw) > _XMP_MAX_BYTES or b"<!ENTITY" in raw:
        # entity declarations are how XML bombs work; real XMP never needs them
        return []
    start = raw.find(b"<x:xmpmeta")
    end = raw.rfind(b"</x:xmpmeta>")
    if start >= 0 and end > start:
        raw = raw[start : end + len(b"</x:xmpmeta>")]
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return []
    out: list[str] = []
    for el in root.iter():
        local = el.tag.rsplit("}", 1)[-1]
        if local in _XMP_WANTED:
            texts = [li.text for li in el.iter() if li.text and li.text.strip()]
            out.extend(t.strip() for t in texts)
    return out


def _allowed(limits: DecodeLimits) -> list[str]:
    """The allowed formats that this Pillow build can open (HEIF only with its plugin)."""
    Image.init()
    return [f for f in limits.image_formats if f in Image.OPEN]


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def decode_image(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodedImage:
    """Decode ``data`` into an RGB image no larger than ``limits.max_side`` on its long side.

    Raises ``DecodeError`` with a reason a person can act on for anything it refuses.
    """
    if not data:
        raise DecodeError("empty file")
    if len(data) > limits.max_file_bytes:
        raise DecodeError(f"file larger than {limits.max_file_bytes} bytes")
    with warnings.catch_warnings():
        # Pillow's own bomb check warns or raises using a process-wide cap; we check our cap
        # below instead, so its warning is noise here.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im: Image.Image = Image.open(io.BytesIO(data), formats=_allowed(limits))
        except Image.DecompressionBombError as e:
            raise DecodeError(f"image too large to decode safely ({e})") from None
        except UnidentifiedImageError:
            if _is_heif(data) and "HEIF" in limits.image_formats and not HEIF_AVAILABLE:
                raise DecodeError(_HEIF_FIX) from None
            raise DecodeError("not a supported image (unrecognised or disallowed format)") from None
        except Exception as e:
            raise DecodeError(f"unreadable image header: {type(e).__name__}: {e}") from None
        width, height = im.size
        if width <= 0 or height <= 0:
            raise DecodeError("image has no pixels")
        if width * height > limits.max_pixels:
            raise DecodeError(
                f"image claims {width}x{height} pixels, over the limit of {limits.max_pixels}"
            )
        fmt = im.format or "unknown"
        try:
            # JPEG can decode straight to a reduced scale, which is much faster for photos
            im.draft("RGB", (limits.max_side, limits.max_side))
            embedded = _exif_text(im) + _xmp_text(im)
            if im.getexif().get(_EXIF_ORIENTATION) in _ORIENTATIONS_SWAPPING_AXES:
                width, height = height, width  # report the size as the picture is shown
            ImageOps.exif_transpose(im, in_place=True)
            im.load()
            im = to_rgb(im)
        except DecodeError:
            raise
        except Exception as e:
            raise DecodeError(f"corrupt or truncated image: {type(e).__name__}: {e}") from None
    if max(im.size) > limits.max_side:
        im.thumbnail((limits.max_side, limits.max_side), Image.Resampling.BILINEAR)
    return DecodedImage(im, width, height, fmt, list(dict.fromkeys(embedded)))


_CAMERA_PREFIX = re.compile(r"^(img|dsc|dscf|dscn|pxl|mvimg|vid|photo|image|screenshot)$", re.I)
_SPLIT = re.compile(r"[\W_]+", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def filename_words(stem: str) -> str:
    """Words a person put in a file name: separators and camelCase split, camera counters and
    hex-like runs dropped."""
    words = []
    for token in _SPLIT.split(_CAMEL.sub(" ", stem)):
        for w in token.split():
            if not w or w.isdigit() or _CAMERA_PREFIX.match(w):
                continue
            if len(w) >= 4 and re.fullmatch(r"[0-9a-fA-F]+", w) and any(c.isdigit() for c in w):
                continue
            words.append(w.lower())
    return " ".join(words)
