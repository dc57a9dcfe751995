"""The one interface every encoder implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from xmodal.records import EncoderSpec, Modality, Word

TextRole = Literal["query", "passage"]


class Specified(ABC):
    """A model known by its spec: encoders and text extractors alike are named, recorded
    and compared by it."""

    @property
    @abstractmethod
    def spec(self) -> EncoderSpec: ...

    @property
    def name(self) -> str:
        return self.spec.name


class Encoder(Specified):
    """Maps images and/or texts to L2-normalised float32 vectors of one space.

    Implementations embed only the modalities listed in ``spec.modalities``; asking for
    another raises ``NotImplementedError``.
    """

    #: items per call that keeps the encoder efficient without holding too much in memory
    batch_size: int = 32
    #: the longest image side this encoder needs (None: the default decode limit). Decoding
    #: no larger than needed is most of the ingest time for small descriptors: a JPEG decodes
    #: straight to a reduced scale.
    input_side: int | None = None
    #: a lexical encoder makes no vectors: it analyses text into terms (``analyze``) for a
    #: keyword index; its family registers ``space="keyword"``, which decides how the
    #: space is written and searched
    lexical: bool = False

    def accepts(self, modality: Modality) -> bool:
        return modality in self.spec.modalities

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        raise NotImplementedError(f"encoder {self.name!r} does not embed images")

    def encode_texts(self, texts: Sequence[str], role: TextRole = "passage") -> np.ndarray:
        raise NotImplementedError(f"encoder {self.name!r} does not embed text")

    def analyze(self, text: str) -> list[str]:
        raise NotImplementedError(f"encoder {self.name!r} is not lexical")

    def encode_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Clips of float32 mono samples at 16 kHz (``xmodal.media.audio.SAMPLE_RATE``)."""
        raise NotImplementedError(f"encoder {self.name!r} does not embed audio")


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-normalise to unit length; all-zero rows stay zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


@dataclass(frozen=True, slots=True)
class TextBox:
    """A piece of text found in an image, with where it was (pixel corners, clockwise from
    top-left, in the coordinates of the image as decoded) and the reader's confidence."""

    text: str
    box: tuple[tuple[float, float], ...]
    score: float


class TextExtractor(Specified):
    """Reads text out of images (OCR). What it reads joins the words attached to the image,
    so every text space embeds it; the boxes are kept in the item's metadata."""

    #: the media it reads text from; a speech recogniser (``SpeechExtractor``) reads audio
    reads: Modality = Modality.IMAGE
    #: images per call
    batch_size: int = 8
    #: the longest image side the extractor wants to see; small print needs pixels
    max_side: int = 1600

    @abstractmethod
    def extract(self, images: Sequence[Image.Image]) -> list[list[TextBox]]:
        """For each image, the text boxes found in it (possibly none), in reading order."""


class SpeechExtractor(TextExtractor):
    """Hears the words in audio (ASR). The words join the text of the span they were said
    in, so every text space finds speech; their times let a hit name the moment."""

    reads = Modality.AUDIO
    batch_size = 1

    def extract(self, images: Sequence[Image.Image]) -> list[list[TextBox]]:
        """A recogniser reads no pictures: no text in any of them."""
        return [[] for _ in images]

    @abstractmethod
    def transcribe(self, samples: np.ndarray) -> list[Word]:
        """The words of float32 mono 16 kHz ``samples``, times in seconds from their start."""
