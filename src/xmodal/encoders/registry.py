"""Name-to-factory registry of encoders.

A name is ``family`` or ``family:argument`` (``clip:ViT-B-32@laion2b_s34b_b79k``); the family
picks the factory, the argument is handed to it. Factories import their heavy back ends
lazily so that listing encoders never loads a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xmodal.encoders.base import Encoder, TextExtractor
from xmodal.errors import UsageError
from xmodal.records import Modality


@dataclass(frozen=True, slots=True)
class EncoderInfo:
    """What ``models list`` shows without loading the model."""

    family: str
    description: str
    modalities: frozenset[Modality]
    dim: int | None
    languages: tuple[str, ...]
    size: str
    available: Callable[[], tuple[bool, str]]
    #: "encoder" makes a space (vectors or keyword terms); "extractor" reads text out of
    #: media (OCR) for the text spaces to embed
    kind: str = "encoder"


Factory = Callable[[str | None], Encoder]
ExtractorFactory = Callable[[str | None], TextExtractor]

_FACTORIES: dict[str, Factory] = {}
_EXTRACTORS: dict[str, ExtractorFactory] = {}
_INFO: dict[str, EncoderInfo] = {}
_CACHE: dict[str, Encoder] = {}
_EXTRACTOR_CACHE: dict[str, TextExtractor] = {}

#: the name that stands for the best set of encoders available offline right now
AUTO = "auto"
#: a fixed offline set: appearance for pictures, sentence embeddings for words
DEFAULT_ENCODERS: tuple[str, ...] = ("classic", "minilm")


def _cached_clip() -> str | None:
    try:
        from xmodal.encoders import clip
    except ImportError:  # open_clip / torchvision not installed
        return None
    try:
        cached = clip.cached_weights()
    except Exception:  # a damaged cache must not stop indexing with the other encoders
        return None
    return cached[0] if cached else None


def resolve_auto() -> tuple[list[str], str]:
    """The encoders ``auto`` stands for, and one line saying what was chosen and why.

    With CLIP weights in the cache: CLIP (pictures and words in one space) + OCR + text;
    without: the classical image descriptor + OCR + text, all from bundled models.
    """
    _load_builtins()
    text = ["e5-multilingual" if _INFO["e5-multilingual"].available()[0] else "minilm", "bm25"]
    ocr = ["ocr"] if _INFO["ocr"].available()[0] else []
    clip = _cached_clip()
    if clip is not None:
        names = [clip, *ocr, *text]
        return names, f"auto: {' + '.join(names)}"
    names = ["classic", *ocr, *text]
    return names, (
        f"auto: {' + '.join(names)}; no CLIP weights cached, so words find pictures only "
        "through the words attached to them: `xmodal models pull clip:ViT-B-32@laion2b_s34b_b79k` "
        "on a connected machine, or --model clip:MODEL@/path/to/weights.safetensors"
    )


def register(info: EncoderInfo) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        if info.family in _FACTORIES:
            raise ValueError(f"encoder family {info.family!r} is already registered")
        _FACTORIES[info.family] = factory
        _INFO[info.family] = info
        return factory

    return deco


def register_extractor(info: EncoderInfo, factory: ExtractorFactory) -> None:
    if info.family in _INFO:
        raise ValueError(f"encoder family {info.family!r} is already registered")
    _EXTRACTORS[info.family] = factory
    _INFO[info.family] = EncoderInfo(
        info.family, info.description, info.modalities, info.dim, info.languages, info.size,
        info.available, kind="extractor",
    )  # fmt: skip


def is_extractor(name: str) -> bool:
    return info(name).kind == "extractor"


def get_extractor(name: str) -> TextExtractor:
    if name not in _EXTRACTOR_CACHE:
        family, arg = split_name(name)
        if info(name).kind != "extractor":
            raise UsageError(f"{name!r} is an encoder, not a text extractor")
        _EXTRACTOR_CACHE[name] = _EXTRACTORS[family](arg)
    return _EXTRACTOR_CACHE[name]


def split_name(name: str) -> tuple[str, str | None]:
    family, sep, arg = name.partition(":")
    return family, (arg if sep else None)


def families() -> list[EncoderInfo]:
    _load_builtins()
    return [_INFO[k] for k in sorted(_INFO)]


def info(name: str) -> EncoderInfo:
    _load_builtins()
    family, _ = split_name(name)
    if family not in _INFO:
        known = ", ".join(sorted(_INFO))
        raise UsageError(f"unknown encoder {name!r}; known: {known}")
    return _INFO[family]


def get_encoder(name: str) -> Encoder:
    """The encoder registered under ``name``, loaded once per process."""
    _load_builtins()
    if name not in _CACHE:
        family, arg = split_name(name)
        if info(name).kind != "encoder":
            raise UsageError(f"{name!r} reads text from images; it makes no space of its own")
        _CACHE[name] = _FACTORIES[family](arg)
    return _CACHE[name]


def _load_builtins() -> None:
    # Importing the modules registers them; kept lazy so that `import xmodal` stays light.
    from xmodal.encoders import bm25, classic, clip, e5, minilm  # noqa: F401

    if "ocr" not in _INFO:
        from xmodal.encoders import ocr

        register_extractor(ocr.OCR_INFO, ocr.make_ocr)
    # trained models register themselves on import (the module loads no heavy library)
    from xmodal.learn import encoder as _trained  # noqa: F401
