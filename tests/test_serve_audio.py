"""An uploaded recording is searched by its sound, as ``xmodal search --audio`` searches a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from awkward import noise, tone
from xmodal.collection import Collection
from xmodal.serve import ServeSettings, create_app

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")


def _write(path: Path, samples: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, 16000)
    return path


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve-audio")
    _write(root / "media" / "low.wav", tone(3.0, 220.0))
    _write(root / "media" / "high.wav", tone(3.0, 3520.0))
    _write(root / "media" / "hiss.wav", noise(3.0, seed=1, level=0.3))
    with Collection.open(root / "db") as col:
        col.index([root / "media"], models=["audio-classic"])
    return root


def test_an_uploaded_recording_finds_what_sounds_like_it(sounds: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    root = sounds
    query = _write(tmp_path / "q" / "query.wav", tone(3.0, 3500.0))
    with Collection.open(root / "db", create=False) as col:
        expected = [h.to_json() for h in col.search(audio=query, k=3)]
        app = create_app(col, ServeSettings(thumb_dir=tmp_path / "thumbs"))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            answer: Any = client.post(
                "/api/search",
                files={"file": ("low.wav", query.read_bytes(), "audio/wav")},
                data={"k": 3},
            )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results == expected
    assert Path(results[0]["path"]).name == "high.wav"
    assert results[0]["modality"] == "audio"
    assert "start" in results[0] and "end" in results[0]
