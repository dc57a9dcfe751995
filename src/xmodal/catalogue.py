"""The encoder families that ship with xmodal, and the ``auto`` choice among them.

The registry in :mod:`xmodal.encoders.registry` is mechanism only; this module decides what
is in it. It sits above both ``encoders`` and ``learn``: the built-in families and the
trained-model families register when their modules are imported, which happens here, lazily,
before the registry's first lookup.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence

from xmodal.encoders import registry

#: the name that stands for the best set of encoders available offline right now
AUTO = "auto"
#: a fixed offline set: appearance for pictures, sentence embeddings for words
DEFAULT_ENCODERS: tuple[str, ...] = ("classic", "minilm")


def load_builtins() -> None:
    """Register every built-in family (importing a family's module registers it; the
    modules load no model on import, so listing models stays cheap)."""
    from xmodal.encoders import asr, audio_classic, bm25, clap, classic, clip, e5, minilm, ocr  # noqa: F401  # noqa: F401

    # trained models register themselves on import (the module loads no heavy library)
    from xmodal.learn import encoder as _trained  # noqa: F401


registry.add_loader(load_builtins)

#: the module that registers each built-in family, imported on the family's first lookup
FAMILY_MODULES = {
    "bm25": "xmodal.encoders.bm25",
    "classic": "xmodal.encoders.classic",
    "clip": "xmodal.encoders.clip",
    "hf-clip": "xmodal.encoders.clip",
    "e5-multilingual": "xmodal.encoders.e5",
    "minilm": "xmodal.encoders.minilm",
    "ocr": "xmodal.encoders.ocr",
    "trained": "xmodal.learn.encoder",
    "emoji-small": "xmodal.learn.encoder",
}


def _importer(module: str) -> Callable[[], None]:
    def load() -> None:
        importlib.import_module(module)

    return load


for _family, _module in FAMILY_MODULES.items():
    registry.add_family(_family, _importer(_module))


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


#: how many names ``holds_audio`` looks at before it gives up looking
_AUDIO_SCAN = 20_000


def holds_audio(roots: Sequence[str]) -> bool:
    """Whether an audio or video file lies under ``roots`` (by name, within the first
    ``_AUDIO_SCAN`` names), so that ``auto`` adds the audio spaces (a video's soundtrack
    goes through them: its speech is heard, its windows described by their sound)."""
    from xmodal.media.audio import AUDIO_EXTENSIONS
    from xmodal.media.video import VIDEO_EXTENSIONS

    sounding = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS

    seen = 0
    for root in roots:
        if os.path.isfile(root):
            if os.path.splitext(root)[1].lower() in sounding:
                return True
            continue
        for _, _, files in os.walk(root):
            for name in files:
                if os.path.splitext(name)[1].lower() in sounding:
                    return True
                seen += 1
            if seen > _AUDIO_SCAN:
                return False
    return False


def _audio_parts() -> list[str]:
    """The recogniser and the sound descriptor, those available now."""
    return [n for n in ("asr", "audio-classic") if registry.info(n).available()[0]]


def resolve_auto(with_audio: bool = False) -> tuple[list[str], str]:
    """The encoders ``auto`` stands for, and one line saying what was chosen and why.

    With CLIP weights in the cache: CLIP (pictures and words in one space) + OCR + text;
    without: the classical image descriptor + OCR + text, all from bundled models. With
    audio or video to index (``with_audio``), speech recognition and the sound descriptor join them.
    """
    e5_ok = registry.info("e5-multilingual").available()[0]
    text = ["e5-multilingual" if e5_ok else "minilm", "bm25"]
    ocr = ["ocr"] if registry.info("ocr").available()[0] else []
    ocr += _audio_parts() if with_audio else []
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
