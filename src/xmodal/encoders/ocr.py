"""Text read from the pixels (OCR) with RapidOCR: the PP-OCR detection, orientation and
recognition networks run by onnxruntime. The Chinese+English models ship inside the
``rapidocr-onnxruntime`` wheel, so reading works offline with nothing to download.

The engine is built on first use, not at import, so listing models stays cheap.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from xmodal.encoders.base import EncoderSpec, TextBox, TextExtractor
from xmodal.encoders.registry import EncoderInfo, register_extractor
from xmodal.errors import UsageError, XmodalError
from xmodal.records import Modality

_log = logging.getLogger(__name__)

_PACKAGE = "rapidocr-onnxruntime"
_MODULE = "rapidocr_onnxruntime"
_PIN = "1.4.4"
_MODEL_FILES = (
    "ch_PP-OCRv4_det_infer.onnx",
    "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "ch_PP-OCRv4_rec_infer.onnx",
)
#: the detector scales an image's SHORT side up to 736 px, so a long thin strip would become
#: an enormous tensor (a 100x1600 strip took 23 s and 1.5 GB); strips are padded to at most
#: this aspect ratio first, which bounds the work at about 736 x 2944 pixels
_MAX_ASPECT = 4.0
#: two boxes are on one line when their vertical overlap is at least this share of the
#: shorter box's height
_LINE_OVERLAP = 0.5


def _installed_version() -> str | None:
    try:
        return importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _available() -> tuple[bool, str]:
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return False, f"{_PACKAGE} is missing: reinstall xmodal (pip install -e .)"
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [m for m in _MODEL_FILES if not (models / m).is_file()]
    if missing:
        return False, f"{_PACKAGE} lacks its bundled models ({', '.join(missing)}): reinstall it"
    return True, f"bundled models ({_PACKAGE} {_installed_version()})"


OCR_INFO = EncoderInfo(
    family="ocr",
    description="reads printed text in images (PP-OCR via RapidOCR); Chinese and English",
    modalities=frozenset({Modality.IMAGE}),
    dim=None,
    languages=("zh", "en"),
    size="~15 MB",
    available=_available,
    kind="extractor",
)


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB; transparent pixels become white, as a page or screen would show them."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        low, high = float(arr.min()), float(arr.max())
        scaled = (arr - low) / (high - low) * 255.0 if high > low else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8), mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def _pad_to_aspect(arr: np.ndarray, max_aspect: float) -> np.ndarray:
    """Pad at the bottom or right (so coordinates are unchanged) with the mean colour."""
    h, w = arr.shape[:2]
    if max(h, w) <= max_aspect * min(h, w):
        return arr
    fill = arr.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    need = math.ceil(max(h, w) / max_aspect)
    out = np.empty((max(h, need), w, 3) if w >= h else (h, max(w, need), 3), dtype=np.uint8)
    out[...] = fill
    out[:h, :w] = arr
    return out


def reading_order(boxes: Sequence[TextBox]) -> list[TextBox]:
    """Top-to-bottom lines, left-to-right within a line. A box joins a line when it overlaps
    the line's first box vertically by half the shorter height, so slightly tilted or
    ragged words stay on their line without chaining the whole page into one."""

    def span(b: TextBox) -> tuple[float, float, float]:
        ys = [p[1] for p in b.box]
        return min(ys), max(ys), min(p[0] for p in b.box)

    lines: list[tuple[tuple[float, float], list[TextBox]]] = []
    for b in sorted(boxes, key=lambda b: (sum(span(b)[:2]) / 2, span(b)[2])):
        top, bottom, _ = span(b)
        for (ltop, lbottom), members in lines:
            overlap = min(bottom, lbottom) - max(top, ltop)
            shorter = min(bottom - top, lbottom - ltop)
            if shorter > 0 and overlap >= _LINE_OVERLAP * shorter:
                members.append(b)
                break
        else:
            lines.append(((top, bottom), [b]))
    lines.sort(key=lambda line: (line[0][0] + line[0][1]) / 2)
    return [b for _, members in lines for b in sorted(members, key=lambda b: span(b)[2])]


class RapidOcrExtractor(TextExtractor):
    """OCR with RapidOCR. Boxes below ``threshold`` confidence and empty readings are
    dropped; images are scaled down to ``max_side`` before reading, boxes scaled back."""

    batch_size = 4

    def __init__(self, threshold: float = 0.5, max_side: int = 1600) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise UsageError(f"OCR confidence threshold must be within 0..1, got {threshold}")
        if max_side < 32:
            raise UsageError(f"OCR max_side must be at least 32 pixels, got {max_side}")
        self.threshold = float(threshold)
        self.max_side = int(max_side)
        self._engine: Any = None
        # onnxruntime sessions may be shared, but the engine keeps per-call state of its own
        # (resizers, post-processing settings), so calls on one extractor take turns
        self._lock = threading.Lock()
        version = _installed_version() or "missing"
        self._spec = EncoderSpec(
            name="ocr",
            weights=f"{_PACKAGE}=={version} (PP-OCR det/cls/rec, zh+en)",
            dim=0,
            modalities=frozenset({Modality.IMAGE}),
            preprocessing={
                "max_side": self.max_side,
                "threshold": self.threshold,
                "max_aspect": _MAX_ASPECT,
            },
            languages=("zh", "en"),
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def _get_engine(self) -> Any:
        # the caller holds self._lock
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as e:
                raise XmodalError(
                    f"OCR needs {_PACKAGE}: reinstall xmodal (pip install -e .) ({e})"
                ) from None
            # the engine would drop low scores itself at its own default; hand it ours
            self._engine = RapidOCR(text_score=self.threshold)
        return self._engine

    def extract(self, images: Sequence[Image.Image]) -> list[list[TextBox]]:
        return [self._extract_one(im) for im in images]

    def _extract_one(self, img: Image.Image) -> list[TextBox]:
        rgb = _to_rgb(img)
        w, h = rgb.size
        if w < 1 or h < 1:
            return []
        scale = min(1.0, self.max_side / max(w, h))
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            rgb = rgb.resize(size, Image.Resampling.BILINEAR)
        arr = _pad_to_aspect(np.asarray(rgb, dtype=np.uint8), _MAX_ASPECT)
        # RapidOCR takes an ndarray as BGR (it converts only files and PIL images), the
        # channel order the PP-OCR models were trained in
        bgr = np.ascontiguousarray(arr[:, :, ::-1])
        with self._lock:
            engine = self._get_engine()
            try:
                result, _ = engine(bgr)
            except Exception as e:  # a reader failure on one image must not lose the batch
                _log.warning("OCR failed on a %dx%d image: %s: %s", w, h, type(e).__name__, e)
                return []
        sx, sy = w / rgb.size[0], h / rgb.size[1]
        found = []
        for points, text, score in result or ():
            text = str(text).strip()
            if not text or float(score) < self.threshold:
                continue
            corners = tuple(
                (
                    float(min(max(px * sx, 0.0), w)),
                    float(min(max(py * sy, 0.0), h)),
                )
                for px, py in points
            )
            found.append(TextBox(text=text, box=corners, score=float(score)))
        return reading_order(found)


def make_ocr(arg: str | None) -> TextExtractor:
    """The ``ocr`` extractor; the name takes no argument."""
    if arg is not None:
        raise UsageError(f"the ocr extractor takes no argument (got 'ocr:{arg}'); use 'ocr'")
    return RapidOcrExtractor()


register_extractor(OCR_INFO, make_ocr)
