"""One conformance suite over every registered encoder that can run here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers import draw_image
from xmodal.encoders import families, get_encoder
from xmodal.records import Modality

NAMES = [f.family for f in families() if f.available()[0] and f.kind == "encoder"]


@pytest.fixture(scope="module", params=NAMES)
def encoder_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _images() -> list[Image.Image]:
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 128))
    return [
        draw_image((200, 30, 30), "circle"),
        draw_image((20, 40, 220), "square", size=300),
        Image.new("RGB", (1, 1), (0, 255, 0)),
        Image.new("RGB", (2000, 1500), (10, 10, 10)),
        draw_image((90, 90, 90), "triangle").convert("L").convert("RGB"),
        rgba.convert("RGB"),
    ]


TEXTS = ["a red bicycle", "", "word " * 2000, "🚲🐱❤️", "一只红色的自行车", "x"]


def test_registered_with_matching_spec(encoder_name: str) -> None:
    enc = get_encoder(encoder_name)
    assert enc.name == encoder_name
    assert (enc.spec.dim > 0 or enc.lexical) and enc.spec.modalities
    assert get_encoder(encoder_name) is enc


def _check(vecs: np.ndarray, n: int, dim: int, allow_zero: bool = False) -> None:
    assert vecs.shape == (n, dim)
    assert vecs.dtype == np.float32
    norms = np.linalg.norm(vecs, axis=1)
    ok = np.isclose(norms, 1.0, atol=1e-4) | (allow_zero & np.isclose(norms, 0.0))
    assert ok.all(), norms
    assert np.isfinite(vecs).all()


def test_images(encoder_name: str) -> None:
    enc = get_encoder(encoder_name)
    if not enc.accepts(Modality.IMAGE):
        with pytest.raises(NotImplementedError):
            enc.encode_images(_images()[:1])
        return
    imgs = _images()
    a = enc.encode_images(imgs)
    _check(a, len(imgs), enc.spec.dim)
    np.testing.assert_allclose(enc.encode_images(imgs), a, atol=1e-6)  # deterministic
    one_by_one = np.concatenate([enc.encode_images([im]) for im in imgs])
    np.testing.assert_allclose(one_by_one, a, atol=1e-5)  # batch-size invariant
    assert enc.encode_images([]).shape == (0, enc.spec.dim)
    # similar images are nearer than different ones
    near = enc.encode_images([draw_image((210, 35, 35), "circle")])[0]
    assert near @ a[0] > near @ a[1]


def test_texts(encoder_name: str) -> None:
    enc = get_encoder(encoder_name)
    if enc.lexical:
        terms = [enc.analyze(t) for t in TEXTS]
        assert all(isinstance(w, str) and w for ts in terms for w in ts)
        assert terms == [enc.analyze(t) for t in TEXTS] and terms[1] == []
        return
    if not enc.accepts(Modality.TEXT):
        with pytest.raises(NotImplementedError):
            enc.encode_texts(["x"])
        return
    a = enc.encode_texts(TEXTS)
    _check(a, len(TEXTS), enc.spec.dim, allow_zero=True)
    np.testing.assert_allclose(enc.encode_texts(TEXTS), a, atol=1e-5)
    one_by_one = np.concatenate([enc.encode_texts([t]) for t in TEXTS])
    np.testing.assert_allclose(one_by_one, a, atol=1e-4)
    assert enc.encode_texts([]).shape == (0, enc.spec.dim)
    q = enc.encode_texts(["a bike that is red"], role="query")[0]
    assert q @ a[0] > q @ a[4 if encoder_name != "minilm" else 5]


def test_spec_round_trips_through_json(encoder_name: str) -> None:
    from xmodal.encoders.base import EncoderSpec

    spec = get_encoder(encoder_name).spec
    again = EncoderSpec.from_json(spec.to_json())
    assert again.fingerprint() == spec.fingerprint()


def test_registry_rejects_duplicates_and_unknown_names() -> None:
    from xmodal.encoders.registry import EncoderInfo, register
    from xmodal.errors import UsageError

    with pytest.raises(ValueError, match="already registered"):
        register(EncoderInfo("classic", "", frozenset(), None, (), "", lambda: (True, "")))(
            lambda arg: get_encoder("classic")
        )
    with pytest.raises(UsageError, match="unknown encoder"):
        get_encoder("nope")


def _clips() -> list[np.ndarray]:
    t = np.arange(16_000, dtype=np.float32) / 16_000
    rng = np.random.default_rng(0)
    return [
        0.5 * np.sin(2 * np.pi * 440 * t),
        0.5 * np.sin(2 * np.pi * 450 * t[:12_000]),
        (0.3 * rng.standard_normal(16_000)).astype(np.float32),
        np.zeros(10, dtype=np.float32),
    ]


def test_audio(encoder_name: str) -> None:
    enc = get_encoder(encoder_name)
    if not enc.accepts(Modality.AUDIO):
        with pytest.raises(NotImplementedError):
            enc.encode_audio(_clips()[:1])
        return
    clips = _clips()
    a = enc.encode_audio(clips)
    _check(a, len(clips), enc.spec.dim, allow_zero=True)
    one_by_one = np.concatenate([enc.encode_audio([c]) for c in clips])
    np.testing.assert_allclose(one_by_one, a, atol=1e-5)
    assert enc.encode_audio([]).shape == (0, enc.spec.dim)
    # a tone is nearer a tone of almost the same pitch than noise
    assert a[0] @ a[1] > a[0] @ a[2]
