"""``clap:DIR``: a transformers CLAP model (sounds and words in one space), from a local
folder or from the Hugging Face hub cache by model id; never downloaded while indexing or
searching. Missing weights are an error that says how to get them, not a fallback.

CLAP's feature extractor takes 48 kHz audio; the collection's 16 kHz spans are resampled
(soxr) before it, which leaves nothing above 8 kHz, as in the 16 kHz recordings themselves.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole, l2_normalize
from xmodal.encoders.registry import EncoderInfo, register
from xmodal.errors import MissingDependencyError, UsageError, XmodalError
from xmodal.records import Modality

_CLAP_RATE = 48_000
_SOURCE_RATE = 16_000


def _available() -> tuple[bool, str]:
    # no CLAP weights ship in any package: the family runs only once given a model
    if importlib.util.find_spec("transformers") is None:
        return False, "needs transformers (pip install -e .)"
    return False, "needs a model: clap:/path/to/folder, or a model id in the hub cache"


def _digest(folder: Path) -> str:
    h = hashlib.blake2b(digest_size=8)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".json"))
    if not any(p.suffix in (".safetensors", ".bin") for p in files):
        raise XmodalError(f"no CLAP weights (.safetensors) in {folder}")
    for p in files:
        h.update(p.name.encode() + str(p.stat().st_size).encode())
        if p.suffix == ".json":
            h.update(p.read_bytes())
    return h.hexdigest()


def resolve_clap(arg: str) -> tuple[Path, str]:
    """The folder of ``arg`` (a path, or a hub id found in the local cache) and its label."""
    local = Path(os.path.expanduser(arg))
    if local.exists():
        if not (local / "config.json").is_file():
            raise XmodalError(f"no transformers model (config.json) in {local}")
        return local.absolute(), _digest(local)
    try:
        from huggingface_hub import snapshot_download

        snap: Path | None = Path(snapshot_download(arg, local_files_only=True))
    except Exception:  # not cached, or not a model id at all
        snap = None
    if snap is None or not (snap / "config.json").is_file():
        raise XmodalError(
            f"CLAP weights for {arg!r} are neither a folder nor in the hub cache; download "
            f"them on a connected machine (huggingface-cli download {arg}) or pass "
            "clap:/path/to/model"
        )
    return snap, f"{arg}@{snap.name[:12]}"


class ClapEncoder(Encoder):
    batch_size = 8

    def __init__(self, arg: str) -> None:
        try:
            from transformers import ClapConfig
        except ImportError:
            raise MissingDependencyError("CLAP", "audio") from None
        self.folder, label = resolve_clap(arg)
        config = ClapConfig.from_pretrained(self.folder, local_files_only=True)
        self._lock = threading.Lock()
        self._model: Any = None
        self._processor: Any = None
        self._spec = EncoderSpec(
            name=f"clap:{self.folder}" if Path(os.path.expanduser(arg)).exists() else f"clap:{arg}",
            weights=label,
            dim=int(config.projection_dim),
            modalities=frozenset({Modality.AUDIO, Modality.TEXT}),
            preprocessing={"sample_rate": _CLAP_RATE, "resampled_from": _SOURCE_RATE},
            languages=("en",),
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            from transformers import AutoProcessor, ClapModel

            try:
                self._model = ClapModel.from_pretrained(self.folder, local_files_only=True).eval()
                self._processor = AutoProcessor.from_pretrained(self.folder, local_files_only=True)
            except OSError as e:
                raise XmodalError(f"cannot load CLAP from {self.folder}: {e}") from None
        return self._model, self._processor

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        import torch

        with self._lock, torch.inference_mode():
            model, proc = self._load()
            inputs = proc.tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
            out = model.get_text_features(**inputs).pooler_output
        return l2_normalize(out.float().numpy())

    def encode_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        import soxr
        import torch

        audio = [soxr.resample(np.asarray(c, np.float32), _SOURCE_RATE, _CLAP_RATE) for c in clips]
        with self._lock, torch.inference_mode():
            model, proc = self._load()
            inputs = proc.feature_extractor(audio, sampling_rate=_CLAP_RATE, return_tensors="pt")
            out = model.get_audio_features(**inputs).pooler_output
        return l2_normalize(out.float().numpy())


@register(
    EncoderInfo(
        family="clap",
        description="sounds and words in one space (transformers CLAP from a folder or the "
        "hub cache: clap:DIR); \"dog barking\" finds barking",
        modalities=frozenset({Modality.AUDIO, Modality.TEXT}),
        dim=None,
        languages=("en",),
        size="~600 MB (clap-htsat)",
        available=_available,
    )
)
def _make(arg: str | None) -> Encoder:
    if not arg:
        raise UsageError(
            "clap needs a model: clap:/path/to/folder or clap:laion/clap-htsat-unfused"
        )
    return ClapEncoder(arg)
