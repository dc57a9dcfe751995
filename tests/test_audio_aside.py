"""A batch's recordings are embedded in the audio spaces beside the recogniser: the vectors are
those the spaces make after it, every span gets one, the words still reach the spans, and a
failing sound encoder fails the batch rather than losing its vectors."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")
pytest.importorskip("faster_whisper")

from awkward import speech_recording  # noqa: E402
from xmodal.encoders.audio_classic import AudioClassic  # noqa: E402
from xmodal.encoders.base import EncoderSpec, SpeechExtractor  # noqa: E402
from xmodal.ingest.audio import decode_prepared  # noqa: E402
from xmodal.ingest.encode import encode_batch, writer_for  # noqa: E402
from xmodal.media.limits import DEFAULT_LIMITS  # noqa: E402
from xmodal.media.walk import FileRef  # noqa: E402
from xmodal.records import Modality, Word  # noqa: E402


class _Ear(SpeechExtractor):
    """Hears one word in every stretch of speech."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def spec(self) -> EncoderSpec:
        return EncoderSpec("ear", "none", 0, frozenset({Modality.AUDIO}))

    def transcribe(self, samples: np.ndarray) -> list[Word]:
        self.calls += 1
        return [Word(0.1, 0.4, "lighthouse")]


def _batch(tmp_path: Path, n: int) -> list:
    out = []
    for k in range(n):
        path = tmp_path / f"clip_{k}.wav"
        y, _ = speech_recording([("the keeper climbs the stairs", 2.0 + k)], 20.0, seed=k)
        sf.write(path, y, 16_000)
        st = path.stat()
        ref = FileRef(str(path), Modality.AUDIO, st.st_size, st.st_mtime_ns, signature="s")
        out.append(decode_prepared(ref, f"hash{k}", DEFAULT_LIMITS))
    return out


def test_sound_vectors_made_beside_the_recogniser_match_the_serial_ones(tmp_path: Path) -> None:
    enc = AudioClassic()
    spaces = [(enc, writer_for(enc))]
    ran_on: list[str] = []
    original = enc.encode_audio

    def noted(clips: Sequence[np.ndarray]) -> np.ndarray:
        ran_on.append(threading.current_thread().name)
        return original(clips)

    enc.encode_audio = noted  # type: ignore[method-assign]
    ear = _Ear()
    beside = encode_batch(_batch(tmp_path, 2), spaces, [ear])
    assert ran_on and all(name.startswith("xmodal-sound") for name in ran_on)
    assert ear.calls >= 2
    ran_on.clear()
    alone = encode_batch(_batch(tmp_path, 2), spaces)
    assert ran_on and not any(name.startswith("xmodal-sound") for name in ran_on)
    for a, b in zip(beside, alone, strict=True):
        ords_a, vecs_a = a.vectors["audio-classic"]
        ords_b, vecs_b = b.vectors["audio-classic"]
        assert ords_a == ords_b == [s.ordinal for s in a.segments]
        np.testing.assert_allclose(vecs_a, vecs_b, rtol=1e-5, atol=1e-6)
        assert "lighthouse" in a.text and "lighthouse" not in b.text


def test_a_failing_sound_encoder_fails_the_batch(tmp_path: Path) -> None:
    enc = AudioClassic()

    def broken(clips: Sequence[np.ndarray]) -> np.ndarray:
        raise RuntimeError("sound encoder broke")

    enc.encode_audio = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="sound encoder broke"):
        encode_batch(_batch(tmp_path, 1), [(enc, writer_for(enc))], [_Ear()])
