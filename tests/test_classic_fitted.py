"""The fitted classic variants (ORB bag of visual words, PCA) and the plain ``classic``
descriptor that existing collections depend on."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from xmodal.encoders import classic as C
from xmodal.errors import UsageError, XmodalError

N_IMAGES = 40
K = 64
PCA_DIM = 16


def scene(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A cluttered picture: random filled shapes on a plain ground, with sensor-like noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    im = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, w - 10)), int(rng.integers(0, h - 10))
        x1, y1 = x0 + int(rng.integers(8, 60)), y0 + int(rng.integers(8, 50))
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            d.rectangle((x0, y0, x1, y1), fill=col)
        elif kind == 1:
            d.ellipse((x0, y0, x1, y1), fill=col)
        else:
            d.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=col)
    noisy = np.asarray(im, dtype=np.float64) + rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def near_duplicate(im: Image.Image) -> Image.Image:
    """Slightly smaller and re-compressed, as a copy found elsewhere would be."""
    buf = io.BytesIO()
    im.resize((150, 112), Image.Resampling.BILINEAR).save(buf, "JPEG", quality=85)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [scene(i) for i in range(N_IMAGES)]


@pytest.fixture(scope="module")
def models(images: list[Image.Image]) -> tuple[C.BovwModel, C.PcaModel]:
    return C.fit_bovw(images, k=K, seed=0), C.fit_pca(images, dim=PCA_DIM)


@pytest.fixture(scope="module")
def saved(
    models: tuple[C.BovwModel, C.PcaModel], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    return models[0].save(root / "vocab.npz"), models[1].save(root / "pca.npz")


@pytest.fixture(scope="module")
def encoders(saved: tuple[Path, Path]) -> dict[str, C.Encoder]:
    return {"bovw": C._make(f"bovw@{saved[0]}"), "pca": C._make(f"pca@{saved[1]}")}


# -- the plain descriptor is frozen -----------------------------------------------------------


def fixed_image(mode: str = "RGB") -> Image.Image:
    w, h = 120, 80
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([(x * 2) % 256, (y * 3) % 256, ((x + y) * 5) % 256], axis=-1).astype(np.uint8)
    im = Image.fromarray(arr, "RGB")
    d = ImageDraw.Draw(im)
    d.rectangle((10, 10, 50, 40), fill=(250, 200, 20))
    d.ellipse((60, 20, 110, 70), fill=(20, 40, 200))
    return im if mode == "RGB" else im.convert(mode)


# Computed with the descriptor as it stood before the fitted variants were added. Every
# collection with a `classic` space holds vectors made this way; if these change, those
# collections silently mix two spaces.
_FROZEN_SHA = {
    "RGB": "e60bb96a9acbbaf8110f201bfa9aa21feb259fe9b39fa22bfcb31354b8703e9f",
    "L": "1cafd227741f94dbedc6a686c9b5aa47fde2adb0d69d0f205b7b034b09e863f5",
}
_FROZEN_INDEX = [14, 19, 20, 21, 24, 25, 144, 150, 200, 300, 400, 467, 468, 500, 531]
_FROZEN_VALUES = [
    0.046875, 0.1012616, 0.1158781, 0.02209709, 0.06051537, 0.1082532, 0.1185635, 0.0,
    0.03842188, 0.01710092, 0.09972501, 0.0, 0.0625, -0.0625, 0.0625,
]  # fmt: skip
_FROZEN_ENCODED_SHA = "30fbc329798f211e7ab3697df8a029e870e32d887fe55d7b47e13332ab737fdf"
_FROZEN_FINGERPRINT = (
    '{"dim": 532, "modalities": ["image"], "name": "classic", "preprocessing": {"color": '
    '{"bins": [4, 6, 6], "size": 64, "space": "lab"}, "decode_max_side": 160, '
    '"hog": {"block": 2, "cell": 16, '
    '"orientations": 9, "size": 64}, "phash": {"hash_size": 8}, "resample": "bilinear", '
    '"weights": {"color": 1.0, "hog": 1.0, "phash": 0.5}}, "weights": "none"}'
)


def test_plain_classic_is_unchanged() -> None:
    enc = C._make(None)
    assert isinstance(enc, C.ClassicEncoder)
    assert enc.spec.dim == 532
    assert enc.spec.fingerprint() == _FROZEN_FINGERPRINT
    v = C.describe(fixed_image("RGB"))
    # values first, so that a failure shows which part (colour/HOG/hash) moved
    np.testing.assert_allclose(v[_FROZEN_INDEX], _FROZEN_VALUES, rtol=0, atol=1e-6)
    for mode, sha in _FROZEN_SHA.items():
        assert hashlib.sha256(C.describe(fixed_image(mode)).tobytes()).hexdigest() == sha
    encoded = enc.encode_images([fixed_image("RGB"), fixed_image("L")])
    assert hashlib.sha256(encoded.tobytes()).hexdigest() == _FROZEN_ENCODED_SHA


# -- vectors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bovw", "pca"])
def test_vectors_are_unit_float32_of_the_model_dim(
    kind: str, encoders: dict[str, C.Encoder], images: list[Image.Image]
) -> None:
    enc = encoders[kind]
    dim = K if kind == "bovw" else PCA_DIM
    assert enc.spec.dim == dim
    v = enc.encode_images(images[:8])
    assert v.dtype == np.float32 and v.shape == (8, dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert enc.encode_images([]).shape == (0, dim)


@pytest.mark.parametrize("kind", ["bovw", "pca"])
def test_batch_size_does_not_change_vectors(
    kind: str, encoders: dict[str, C.Encoder], images: list[Image.Image]
) -> None:
    enc = encoders[kind]
    together = enc.encode_images(images[:10])
    alone = np.concatenate([enc.encode_images([im]) for im in images[:10]])
    assert np.array_equal(together, alone)


@pytest.mark.parametrize(("kind", "min_top1"), [("bovw", 0.75), ("pca", 0.95)])
def test_near_duplicates_are_closer_than_other_images(
    kind: str, min_top1: float, encoders: dict[str, C.Encoder], images: list[Image.Image]
) -> None:
    enc = encoders[kind]
    originals = enc.encode_images(images)
    copies = enc.encode_images([near_duplicate(im) for im in images])
    sims = copies @ originals.T
    top1 = float(np.mean(np.argmax(sims, axis=1) == np.arange(len(images))))
    assert top1 >= min_top1
    others = sims[~np.eye(len(images), dtype=bool)].reshape(len(images), -1)
    assert np.mean(np.diag(sims)) > np.mean(others) + 0.2


def test_featureless_image_embeds_as_zero_in_bovw(encoders: dict[str, C.Encoder]) -> None:
    v = encoders["bovw"].encode_images([Image.new("RGB", (64, 64), (90, 90, 90))])
    assert v.shape == (1, K) and not np.any(v)


def test_odd_modes_and_sizes_embed(encoders: dict[str, C.Encoder]) -> None:
    odd = [
        Image.new("L", (1, 1), 7),
        Image.new("RGBA", (300, 5), (1, 2, 3, 0)),
        scene(99).convert("L"),
        scene(98).convert("RGBA"),
    ]
    for enc in encoders.values():
        v = enc.encode_images(odd)
        assert v.shape == (4, enc.spec.dim) and np.all(np.isfinite(v))


# -- fitting and files ------------------------------------------------------------------------


def test_save_load_round_trip(
    models: tuple[C.BovwModel, C.PcaModel],
    saved: tuple[Path, Path],
    images: list[Image.Image],
    encoders: dict[str, C.Encoder],
) -> None:
    bovw, pca = models
    loaded_bovw, loaded_pca = C.BovwModel.load(saved[0]), C.PcaModel.load(saved[1])
    assert loaded_bovw.fingerprint == bovw.fingerprint
    assert loaded_pca.fingerprint == pca.fingerprint
    assert np.array_equal(loaded_bovw.centroids, bovw.centroids)
    assert np.array_equal(loaded_pca.components, pca.components)
    in_memory = {"bovw": C.BovwEncoder(bovw, "m"), "pca": C.PcaEncoder(pca, "m")}
    for kind, enc in encoders.items():
        assert enc.spec.weights == in_memory[kind].spec.weights
        assert np.array_equal(
            enc.encode_images(images[:5]), in_memory[kind].encode_images(images[:5])
        )
    # no temporary file is left beside the model
    assert sorted(p.name for p in saved[0].parent.iterdir()) == ["pca.npz", "vocab.npz"]


def test_spec_names_the_absolute_path_and_the_model_hash(
    saved: tuple[Path, Path], encoders: dict[str, C.Encoder], models: tuple[C.BovwModel, C.PcaModel]
) -> None:
    assert encoders["bovw"].spec.name == f"classic:bovw@{saved[0]}"
    assert encoders["pca"].spec.name == f"classic:pca@{saved[1]}"
    assert encoders["bovw"].spec.weights == models[0].fingerprint
    assert len(models[0].fingerprint) == 16 and int(models[0].fingerprint, 16) >= 0


def test_fits_are_deterministic_and_the_hash_follows_the_fit(
    images: list[Image.Image], models: tuple[C.BovwModel, C.PcaModel]
) -> None:
    bovw, pca = models
    assert C.fit_bovw(images, k=K, seed=0).fingerprint == bovw.fingerprint
    assert C.fit_pca(images, dim=PCA_DIM).fingerprint == pca.fingerprint
    assert C.fit_bovw(images, k=K, seed=1).fingerprint != bovw.fingerprint
    assert C.fit_bovw(images[:30], k=K, seed=0).fingerprint != bovw.fingerprint
    assert C.fit_pca(images[:30], dim=PCA_DIM).fingerprint != pca.fingerprint
    assert C.fit_pca(images, dim=PCA_DIM - 1).fingerprint != pca.fingerprint


def test_resaving_keeps_the_hash(models: tuple[C.BovwModel, C.PcaModel], tmp_path: Path) -> None:
    a = models[0].save(tmp_path / "a.npz")
    b = models[0].save(tmp_path / "sub" / "b.npz")
    assert C.BovwModel.load(a).fingerprint == C.BovwModel.load(b).fingerprint


def _corrupt_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    files = {
        "garbage": b"not a zip at all",
        "empty": b"",
        "truncated": good.read_bytes()[: good.stat().st_size // 2],
    }
    out = {}
    for name, data in files.items():
        out[name] = tmp_path / f"{name}.npz"
        out[name].write_bytes(data)
    out["pickled"] = tmp_path / "pickled.npz"
    np.savez(out["pickled"], xmodal_model=np.array([1, 1]), centroids=np.array([{}], dtype=object))
    out["nan"] = tmp_path / "nan.npz"
    with np.load(good) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["idf"] = arrays["idf"].copy()
    arrays["idf"][0] = np.nan
    np.savez(out["nan"], **arrays)
    out["wrong_shape"] = tmp_path / "wrong_shape.npz"
    arrays["idf"] = np.ones(3, dtype=np.float32)
    np.savez(out["wrong_shape"], **arrays)
    out["no_header"] = tmp_path / "no_header.npz"
    np.savez(out["no_header"], centroids=np.zeros((4, 256), dtype=np.float32))
    out["missing"] = tmp_path / "does_not_exist.npz"
    return out


def test_bad_model_files_are_one_line_errors(saved: tuple[Path, Path], tmp_path: Path) -> None:
    for name, path in _corrupt_files(tmp_path, saved[0]).items():
        with pytest.raises(XmodalError) as e:
            C._make(f"bovw@{path}")
        msg = str(e.value)
        assert "\n" not in msg and "xmodal models fit bovw" in msg, name
    # a PCA file handed in as a vocabulary says what it holds
    with pytest.raises(XmodalError, match="PCA projection"):
        C._make(f"bovw@{saved[1]}")
    with pytest.raises(XmodalError, match="visual-word vocabulary"):
        C._make(f"pca@{saved[0]}")


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("centroids.npy", "w", force_zip64=True) as f,
    ):
        for _ in range(300):
            f.write(bytes(1 << 20))
    with pytest.raises(XmodalError, match="inflate"):
        C.BovwModel.load(path)


def test_bad_names_are_usage_errors() -> None:
    for arg in ("sift@x.npz", "bovw", "bovw@", "pca@  ", "lda@x"):
        with pytest.raises(UsageError):
            C._make(arg)


def test_fitting_refuses_what_it_cannot_fit(images: list[Image.Image]) -> None:
    with pytest.raises(XmodalError, match="more than 8 images"):
        C.fit_pca(images[:8], dim=8)
    flat = [Image.new("RGB", (64, 64), (c, c, c)) for c in range(0, 250, 25)]
    with pytest.raises(XmodalError, match="ORB keypoints"):
        C.fit_bovw(flat, k=16)
    with pytest.raises(UsageError):
        C.fit_bovw(images, k=1)
    with pytest.raises(UsageError):
        C.fit_pca(images, dim=533)


def test_fit_from_folder(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    for i in range(24):
        scene(100 + i).save(folder / ("sub" if i % 3 else "") / f"p{i:02d}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("not an image")

    out = C.fit_from_folder("pca", folder, tmp_path / "m" / "pca.npz", k_or_dim=8, progress=False)
    assert out == (tmp_path / "m" / "pca.npz") and C.PcaModel.load(out).dim == 8
    a = C.fit_from_folder(
        "bovw", folder, tmp_path / "a.npz", sample=12, k_or_dim=16, progress=False
    )
    b = C.fit_from_folder(
        "bovw", folder, tmp_path / "b.npz", sample=12, k_or_dim=16, progress=False
    )
    c = C.fit_from_folder(
        "bovw", folder, tmp_path / "c.npz", sample=12, k_or_dim=16, seed=5, progress=False
    )
    fa, fb, fc = (C.BovwModel.load(p).fingerprint for p in (a, b, c))
    assert fa == fb != fc
    with pytest.raises(UsageError):
        C.fit_from_folder("pca", tmp_path / "nope", tmp_path / "x.npz", k_or_dim=4, progress=False)
    with pytest.raises(UsageError):
        C.fit_from_folder("lda", folder, tmp_path / "x.npz", k_or_dim=4, progress=False)  # type: ignore[arg-type]
