"""Name-to-factory registry of encoders and text extractors: the mechanism only.

A name is ``family`` or ``family:argument`` (``clip:ViT-B-32@laion2b_s34b_b79k``); the family
picks the factory, the argument is handed to it. Factories import their heavy back ends
lazily so that listing encoders never loads a model. Which families exist is not decided
here: modules register themselves on import. ``add_family`` names the module of one family,
imported on that family's first lookup, so a command pays only for the families it uses;
loaders added with ``add_loader`` (the catalogue of built-ins) import everything before a
listing or a lookup of a name nobody declared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from xmodal.encoders.base import Encoder, TextExtractor
from xmodal.errors import UsageError
from xmodal.records import Modality

#: what a family's space is searched by: vectors, or keyword terms (BM25)
SpaceKind = Literal["vector", "keyword"]
#: downloads what ``name`` needs into the local cache and returns where it lies
PullFn = Callable[..., Path]
M = TypeVar("M", Encoder, TextExtractor)


@dataclass(frozen=True, slots=True)
class EncoderInfo:
    """What ``models list`` shows without loading the model, and what the family makes."""

    family: str
    description: str
    modalities: frozenset[Modality]
    dim: int | None
    languages: tuple[str, ...]
    size: str
    available: Callable[[], tuple[bool, str]]
    #: "encoder" makes a space; "extractor" reads text out of media (OCR) for the text
    #: spaces to embed
    kind: Literal["encoder", "extractor"] = "encoder"
    #: the kind of space an encoder family makes
    space: SpaceKind = "vector"
    #: ``pull(name, progress=FACTORY)`` fetches the weights, reporting to a ``Progress`` from
    #: the factory (silent with None); None: nothing to download
    pull: PullFn | None = None


Factory = Callable[[str | None], Encoder]
ExtractorFactory = Callable[[str | None], TextExtractor]

_FACTORIES: dict[str, Factory] = {}
_EXTRACTORS: dict[str, ExtractorFactory] = {}
_INFO: dict[str, EncoderInfo] = {}
_CACHE: dict[str, Encoder] = {}
_EXTRACTOR_CACHE: dict[str, TextExtractor] = {}
_LOADERS: list[Callable[[], None]] = []
_FAMILY_LOADERS: dict[str, Callable[[], None]] = {}
_loading = False


def _add_info(info: EncoderInfo, kind: str) -> None:
    if info.kind != kind:
        raise ValueError(f"{info.family!r} is registered as an {info.kind}, not an {kind}")
    if info.family in _INFO:
        raise ValueError(f"encoder family {info.family!r} is already registered")
    _INFO[info.family] = info


def register(info: EncoderInfo) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        _add_info(info, "encoder")
        _FACTORIES[info.family] = factory
        return factory

    return deco


def register_extractor(info: EncoderInfo, factory: ExtractorFactory) -> None:
    _add_info(info, "extractor")
    _EXTRACTORS[info.family] = factory


def add_loader(loader: Callable[[], None]) -> None:
    """Run ``loader`` (which registers families) before the next lookup."""
    _LOADERS.append(loader)


def add_family(family: str, loader: Callable[[], None]) -> None:
    """Run ``loader`` (which registers ``family``) on the first lookup of ``family``."""
    _FAMILY_LOADERS[family] = loader


def _load_family(family: str) -> None:
    loader = _FAMILY_LOADERS.get(family)
    if loader is not None and family not in _INFO:
        loader()


def _load() -> None:
    global _loading
    # a loader's imports may look a name up; the families it is registering are not needed
    # for that, so the nested lookup does not run the loader again
    if _loading:
        return
    _loading = True
    try:
        while _LOADERS:
            _LOADERS[0]()
            _LOADERS.pop(0)  # kept until it succeeds: a failed load fails the next lookup too
    finally:
        _loading = False


def split_name(name: str) -> tuple[str, str | None]:
    family, sep, arg = name.partition(":")
    return family, (arg if sep else None)


def families() -> list[EncoderInfo]:
    _load()
    return [_INFO[k] for k in sorted(_INFO)]


def info(name: str) -> EncoderInfo:
    family, _ = split_name(name)
    if family not in _INFO:
        _load_family(family)
    if family not in _INFO:
        _load()
    if family not in _INFO:
        known = ", ".join(sorted(_INFO))
        raise UsageError(f"unknown encoder {name!r}; known: {known}")
    return _INFO[family]


def is_extractor(name: str) -> bool:
    return info(name).kind == "extractor"


def get_encoder(name: str) -> Encoder:
    """The encoder registered under ``name``, loaded once per process."""
    refusal = f"{name!r} reads text from images; it makes no space of its own"
    return _loaded(name, "encoder", refusal, _CACHE, _FACTORIES)


def get_extractor(name: str) -> TextExtractor:
    refusal = f"{name!r} is an encoder, not a text extractor"
    return _loaded(name, "extractor", refusal, _EXTRACTOR_CACHE, _EXTRACTORS)


def _loaded(
    name: str,
    kind: str,
    refusal: str,
    cache: dict[str, M],
    factories: dict[str, Callable[[str | None], M]],
) -> M:
    if name not in cache:
        family, arg = split_name(name)
        if info(name).kind != kind:
            raise UsageError(refusal)
        cache[name] = factories[family](arg)
    return cache[name]
