"""Classical image descriptors: no pretrained weights, optionally a small fitted model.

``classic``: three parts, each normalised on its own and then weighted, so that no part
drowns the others:
- a joint histogram in CIELAB (perceptually even colour distances), square-rooted so that the
  dot product of two histograms is their Hellinger affinity;
- a HOG descriptor of the grey image (edges and shapes, insensitive to colour);
- a DCT perceptual hash as +-1 bits (near-duplicates agree on almost every bit).

``classic:bovw@PATH``: a bag of visual words over ORB keypoints, tf-idf weighted and
square-rooted. Unlike the global descriptor it matches a picture of the same object or place
under crops, zoom and clutter. ``classic:pca@PATH``: the ``classic`` descriptor projected
onto its principal axes, a smaller vector in which the directions that vary most across the
user's images dominate.

Both read a model fitted on a sample of images (``fit_bovw``, ``fit_pca``,
``fit_from_folder``), stored as a numbers-only ``.npz``. The space's weights tag is a hash of
the model's numbers, so vectors from a refitted model never share a space with older ones.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import imagehash
import numpy as np
from PIL import Image
from skimage.color import rgb2lab
from skimage.feature import hog

from xmodal.atomic import atomic_file
from xmodal.encoders.base import Encoder, EncoderSpec, l2_normalize
from xmodal.encoders.registry import EncoderInfo, register
from xmodal.errors import UsageError, XmodalError
from xmodal.records import Modality

_L_BINS, _A_BINS, _B_BINS = 4, 6, 6
_COLOR_SIZE = 64
_HOG_SIZE = 64
_HOG_CELL = 16
_HOG_ORIENT = 9
_HASH_SIZE = 8
_WEIGHTS = {"color": 1.0, "hog": 1.0, "phash": 0.5}

#: every part works on 64 px or less; a little headroom keeps the downscale smooth
DECODE_SIDE = 160

_PREPROCESSING: dict[str, Any] = {
    "decode_max_side": DECODE_SIDE,
    "color": {"space": "lab", "bins": [_L_BINS, _A_BINS, _B_BINS], "size": _COLOR_SIZE},
    "hog": {"size": _HOG_SIZE, "cell": _HOG_CELL, "orientations": _HOG_ORIENT, "block": 2},
    "phash": {"hash_size": _HASH_SIZE},
    "weights": _WEIGHTS,
    "resample": "bilinear",
}

_HOG_DIM = ((_HOG_SIZE // _HOG_CELL) - 1) ** 2 * 4 * _HOG_ORIENT
_DIM = _L_BINS * _A_BINS * _B_BINS + _HOG_DIM + _HASH_SIZE * _HASH_SIZE


def _color_part(img: Image.Image) -> np.ndarray:
    small = np.asarray(img.resize((_COLOR_SIZE, _COLOR_SIZE), Image.Resampling.BILINEAR))
    lab = rgb2lab(small).reshape(-1, 3)
    hist, _ = np.histogramdd(
        lab,
        bins=(_L_BINS, _A_BINS, _B_BINS),
        range=((0.0, 100.0), (-100.0, 100.0), (-100.0, 100.0)),
    )
    return np.sqrt(hist.ravel() / max(hist.sum(), 1.0))


def _hog_part(img: Image.Image) -> np.ndarray:
    grey = np.asarray(img.convert("L").resize((_HOG_SIZE, _HOG_SIZE), Image.Resampling.BILINEAR))
    feat = hog(
        grey,
        orientations=_HOG_ORIENT,
        pixels_per_cell=(_HOG_CELL, _HOG_CELL),
        cells_per_block=(2, 2),
        block_norm="L2-Hys",
        feature_vector=True,
    )
    return np.asarray(feat, dtype=np.float64)


def _phash_part(img: Image.Image) -> np.ndarray:
    bits = imagehash.phash(img, hash_size=_HASH_SIZE).hash.ravel()
    return np.where(bits, 1.0, -1.0)


def describe(img: Image.Image) -> np.ndarray:
    """The unnormalised-per-image descriptor of one RGB image."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    parts = []
    for name, part in (
        ("color", _color_part(rgb)),
        ("hog", _hog_part(rgb)),
        ("phash", _phash_part(rgb)),
    ):
        norm = np.linalg.norm(part)
        parts.append(_WEIGHTS[name] * (part / norm if norm > 0 else part))
    return np.concatenate(parts).astype(np.float32)


class ClassicEncoder(Encoder):
    batch_size = 64
    input_side = DECODE_SIDE

    def __init__(self) -> None:
        self._spec = EncoderSpec(
            name="classic",
            weights="none",
            dim=_DIM,
            modalities=frozenset({Modality.IMAGE}),
            preprocessing=_PREPROCESSING,
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, _DIM), dtype=np.float32)
        return l2_normalize(np.stack([describe(im) for im in images]))


# -- fitted models: shared file handling ---------------------------------------------------

ModelKind = Literal["bovw", "pca"]

#: first array of every model file: what it is and the layout version
_HEADER_KEY = "xmodal_model"
_KIND_CODES: dict[str, int] = {"bovw": 1, "pca": 2}
_FORMAT_VERSION = 1
#: a model file is a user-supplied input: refuse to inflate more than this
_MAX_MODEL_BYTES = 256 * 1024 * 1024
_WHAT = {"bovw": "visual-word vocabulary", "pca": "PCA projection"}


def _how_to_make(kind: str) -> str:
    return (
        f"make one with `xmodal models fit {kind}` "
        f"(or xmodal.encoders.classic.fit_from_folder('{kind}', ...))"
    )


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    """Hash of the model's numbers (names, dtypes, shapes, values), independent of how the
    zip container was written, so re-saving the same fit keeps the tag."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> Path:
    target = Path(path).expanduser().absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    return target


def _load_npz(path: str | os.PathLike[str], kind: ModelKind) -> dict[str, np.ndarray]:
    """The arrays of a model file of ``kind``; anything else is an ``XmodalError`` saying
    how to make a good one."""
    what, how = _WHAT[kind], _how_to_make(kind)
    p = Path(path)
    if not p.is_file():
        raise XmodalError(f"{what} file not found: {p}; {how}")
    try:
        with zipfile.ZipFile(p) as z:
            if sum(i.file_size for i in z.infolist()) > _MAX_MODEL_BYTES:
                raise ValueError(f"it would inflate to more than {_MAX_MODEL_BYTES} bytes")
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
        header = arrays.get(_HEADER_KEY)
        if header is None or header.shape != (2,) or header.dtype.kind not in "iu":
            raise ValueError("no xmodal model header")
        code, version = (int(v) for v in header)
        if code != _KIND_CODES[kind]:
            found = next((k for k, c in _KIND_CODES.items() if c == code), "unknown")
            raise ValueError(f"it holds a {_WHAT.get(found, found + ' model')}")
        if version != _FORMAT_VERSION:
            raise ValueError(f"model format {version}, this version reads {_FORMAT_VERSION}")
        for key, a in arrays.items():
            if a.dtype.kind not in "iuf":
                raise ValueError(f"array {key!r} is not numeric")
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise ValueError(f"array {key!r} holds non-finite numbers")
    except XmodalError:
        raise
    except Exception as e:  # zip, npy header and value errors all mean the same to the user
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise XmodalError(f"{p} is not a valid {what} ({reason}); {how}") from None
    return arrays


def _require(arrays: Mapping[str, np.ndarray], key: str, ndim: int) -> np.ndarray:
    a = arrays.get(key)
    if a is None or a.ndim != ndim:
        raise ValueError(f"array {key!r} missing or of the wrong shape")
    return a


_M = TypeVar("_M")


def _load_checked(
    path: str | os.PathLike[str], kind: ModelKind, build: Callable[[Mapping[str, np.ndarray]], _M]
) -> _M:
    arrays = _load_npz(path, kind)
    try:
        return build(arrays)
    except (ValueError, TypeError) as e:
        raise XmodalError(
            f"{path} is not a valid {_WHAT[kind]} ({e}); {_how_to_make(kind)}"
        ) from None


# -- bag of visual words over ORB ----------------------------------------------------------

#: images are scaled to this long side before keypoint detection, so that one object seen in
#: a thumbnail and in a large photo yields keypoints at comparable scales
_ORB_SIDE = 512
_ORB_FEATURES = 500
_ORB_BYTES = 32
#: k-means sees at most this many descriptors per word; more adds time, not quality
_POINTS_PER_WORD = 128
_KMEANS_ITER = 20


def orb_descriptors(
    img: Image.Image, nfeatures: int = _ORB_FEATURES, side: int = _ORB_SIDE
) -> np.ndarray:
    """ORB binary descriptors of one image, ``(n, 32)`` uint8 (possibly ``n == 0``)."""
    try:
        import cv2
    except ImportError:
        raise XmodalError(
            "ORB keypoints need OpenCV (opencv-python): reinstall xmodal (pip install -e .)"
        ) from None

    rgb = img if img.mode == "RGB" else img.convert("RGB")
    grey = rgb.convert("L")
    w, h = grey.size
    scale = side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    arr = np.asarray(grey.resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)
    # one detector per call: OpenCV objects are not documented as safe to share across threads
    orb = cv2.ORB.create(nfeatures=nfeatures)
    _, desc = orb.detectAndCompute(arr, None)
    if desc is None:
        return np.zeros((0, _ORB_BYTES), dtype=np.uint8)
    return np.asarray(desc, dtype=np.uint8).reshape(-1, _ORB_BYTES)


def _bits(desc: np.ndarray) -> np.ndarray:
    # Euclidean distance between 0/1 vectors is the square root of the Hamming distance, so
    # ordinary k-means on unpacked bits clusters binary descriptors correctly.
    return np.unpackbits(desc, axis=1).astype(np.float32)


class BovwModel:
    """A visual-word vocabulary (k-means centres of ORB descriptors) and the inverse document
    frequency of each word in the images it was fitted on."""

    def __init__(
        self,
        centroids: np.ndarray,
        idf: np.ndarray,
        nfeatures: int = _ORB_FEATURES,
        side: int = _ORB_SIDE,
    ) -> None:
        centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        idf = np.ascontiguousarray(idf, dtype=np.float32).ravel()
        if centroids.ndim != 2 or centroids.shape[1] != _ORB_BYTES * 8 or len(centroids) < 2:
            raise ValueError(f"centroids must be (k >= 2, {_ORB_BYTES * 8})")
        if idf.shape != (len(centroids),):
            raise ValueError("idf must hold one weight per word")
        if nfeatures < 1 or side < 8:
            raise ValueError("ORB settings out of range")
        self.centroids = centroids
        self.idf = idf
        self.nfeatures = int(nfeatures)
        self.side = int(side)
        self._sq = np.einsum("ij,ij->i", centroids, centroids)
        self.fingerprint = _digest(self._arrays())

    @property
    def k(self) -> int:
        return len(self.centroids)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            _HEADER_KEY: np.array([_KIND_CODES["bovw"], _FORMAT_VERSION], dtype=np.int64),
            "centroids": self.centroids,
            "idf": self.idf,
            "orb": np.array([self.nfeatures, self.side], dtype=np.int64),
        }

    def words(self, desc: np.ndarray) -> np.ndarray:
        """The nearest word of each descriptor."""
        if len(desc) == 0:
            return np.zeros(0, dtype=np.int64)
        x = _bits(desc)
        dist = self._sq[None, :] - 2.0 * (x @ self.centroids.T)
        return np.asarray(np.argmin(dist, axis=1), dtype=np.int64)

    def histogram(self, img: Image.Image) -> np.ndarray:
        """Square root of term frequency times idf of one image's words, not yet normalised.

        Repetitive texture (bricks, foliage) fires one word hundreds of times and would
        otherwise outweigh every distinctive word; the square root damps such bursts, and
        makes the dot product of two normalised histograms a Hellinger affinity (on synthetic
        near-duplicate retrieval: top-1 0.83 -> 0.88 with 64 words, 0.93 -> 1.0 with 128)."""
        words = self.words(orb_descriptors(img, self.nfeatures, self.side))
        if len(words) == 0:
            return np.zeros(self.k, dtype=np.float32)
        tf = np.bincount(words, minlength=self.k).astype(np.float32) / len(words)
        return np.sqrt(tf * self.idf)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return _save_npz(path, self._arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BovwModel:
        def build(a: Mapping[str, np.ndarray]) -> BovwModel:
            orb = _require(a, "orb", 1)
            if orb.shape != (2,) or orb.dtype.kind not in "iu":
                raise ValueError("array 'orb' must hold two integers")
            return cls(_require(a, "centroids", 2), _require(a, "idf", 1), *map(int, orb))

        return _load_checked(path, "bovw", build)


def fit_bovw(images: Iterable[Image.Image], k: int = 256, seed: int = 0) -> BovwModel:
    """Fit a ``k``-word vocabulary on the ORB descriptors of ``images`` (k-means), and the
    words' idf over the same images."""
    _check_int("k", k, 2, 65536)
    return _fit_bovw_descriptors((orb_descriptors(im) for im in images), k, seed)


def _fit_bovw_descriptors(per_image: Iterable[np.ndarray], k: int, seed: int) -> BovwModel:
    import faiss

    descs = list(per_image)
    total = sum(len(d) for d in descs)
    if total < k:
        raise XmodalError(
            f"only {total} ORB keypoints found in {len(descs)} images, fewer than the {k} "
            "words asked for: fit on more (or more textured) images, or ask for fewer words"
        )
    allx = np.concatenate([d for d in descs if len(d)])
    rng = np.random.default_rng(seed)
    cap = k * _POINTS_PER_WORD
    train = allx if len(allx) <= cap else allx[np.sort(rng.choice(len(allx), cap, replace=False))]
    km = faiss.Kmeans(
        _ORB_BYTES * 8,
        k,
        niter=_KMEANS_ITER,
        seed=int(seed),
        verbose=False,
        min_points_per_centroid=1,
        max_points_per_centroid=_POINTS_PER_WORD + 1,
    )
    km.train(_bits(train))
    centroids = np.asarray(km.centroids, dtype=np.float32).reshape(k, -1)
    vocab = BovwModel(centroids, np.ones(k, dtype=np.float32))
    df = np.zeros(k, dtype=np.float64)
    for d in descs:
        df[np.unique(vocab.words(d))] += 1.0
    # smoothed idf: a word found in every image keeps weight 1 instead of vanishing
    n = float(len(descs))
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    return BovwModel(centroids, idf.astype(np.float32))


# -- PCA of the classic descriptor ---------------------------------------------------------


class PcaModel:
    """Principal axes of L2-normalised ``classic`` descriptors: the mean and the top ``dim``
    directions (rows), without whitening, so cosine similarity keeps its meaning."""

    def __init__(self, mean: np.ndarray, components: np.ndarray) -> None:
        mean = np.ascontiguousarray(mean, dtype=np.float32).ravel()
        components = np.ascontiguousarray(components, dtype=np.float32)
        if mean.shape != (_DIM,):
            raise ValueError(f"mean must have the classic dimension {_DIM}")
        if components.ndim != 2 or components.shape[1] != _DIM or not 1 <= len(components) <= _DIM:
            raise ValueError(f"components must be (1..{_DIM}, {_DIM})")
        self.mean = mean
        self.components = components
        self._mean64 = mean.astype(np.float64)
        self._comp64 = components.astype(np.float64)
        self.fingerprint = _digest(self._arrays())

    @property
    def dim(self) -> int:
        return len(self.components)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            _HEADER_KEY: np.array([_KIND_CODES["pca"], _FORMAT_VERSION], dtype=np.int64),
            "mean": self.mean,
            "components": self.components,
        }

    def project(self, descriptor: np.ndarray) -> np.ndarray:
        """One classic descriptor into the reduced space, not yet normalised. Done one vector
        at a time so that the result does not depend on how images were batched."""
        x = np.asarray(descriptor, dtype=np.float64).ravel()
        norm = np.linalg.norm(x)
        x = x / norm if norm > 0 else x
        return (self._comp64 @ (x - self._mean64)).astype(np.float32)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return _save_npz(path, self._arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PcaModel:
        def build(a: Mapping[str, np.ndarray]) -> PcaModel:
            return cls(_require(a, "mean", 1), _require(a, "components", 2))

        return _load_checked(path, "pca", build)


def fit_pca(images: Iterable[Image.Image], dim: int = 64, seed: int = 0) -> PcaModel:
    """Fit a ``dim``-axis PCA of the ``classic`` descriptor on ``images``.

    The fit is exact (SVD) and so does not use ``seed``; it is accepted so that both fits are
    called alike."""
    _check_int("dim", dim, 1, _DIM)
    return _fit_pca_descriptors([describe(im) for im in images], dim)


def _fit_pca_descriptors(descriptors: Sequence[np.ndarray], dim: int) -> PcaModel:
    n = len(descriptors)
    if n <= dim:
        raise XmodalError(
            f"a {dim}-dimensional PCA needs more than {dim} images to fit on, got {n}: "
            "fit on more images or ask for fewer dimensions"
        )
    x = l2_normalize(np.stack(descriptors)).astype(np.float64)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    comps = vt[:dim]
    # SVD axes have no inherent sign; pin it so that the same data always gives the same file
    pivot = np.argmax(np.abs(comps), axis=1)
    comps = comps * np.sign(comps[np.arange(dim), pivot])[:, None]
    return PcaModel(mean, comps)


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be an integer from {low} to {high}, got {value!r}")


# -- fitting from a folder -----------------------------------------------------------------


def fit_from_folder(
    kind: Literal["bovw", "pca"],
    folder: Path,
    out: Path,
    *,
    sample: int = 2000,
    k_or_dim: int,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Fit a model of ``kind`` on up to ``sample`` images found under ``folder`` and save it
    to ``out``; returns the absolute path written.

    The sample is drawn with ``seed`` from the sorted file list, so the same folder gives the
    same model; files that do not decode are passed over and the next ones taken instead.
    Images are decoded as indexing decodes them, so the model sees what the encoder will see.
    """
    from xmodal.media.image import decode_image
    from xmodal.media.limits import DEFAULT_LIMITS
    from xmodal.media.walk import walk

    if kind not in _KIND_CODES:
        raise UsageError(f"unknown model kind {kind!r}; use 'bovw' or 'pca'")
    _check_int("sample", sample, 1, 10_000_000)
    if kind == "bovw":
        _check_int("k", k_or_dim, 2, 65536)
    else:
        _check_int("dim", k_or_dim, 1, _DIM)
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UsageError(f"not a folder: {folder}")
    files = [f for f in walk([root]).files if f.modality is Modality.IMAGE]
    if not files:
        raise XmodalError(f"no images found under {folder}")
    order = np.random.default_rng(seed).permutation(len(files))
    limits = DEFAULT_LIMITS

    bar: Any = None
    if progress:
        from xmodal.progress import progress_bar

        bar = progress_bar(f"fitting {kind}", unit="image")(min(sample, len(files)))
    feats: list[np.ndarray] = []
    try:
        for i in order:
            if len(feats) >= sample:
                break
            ref = files[int(i)]
            if ref.size > limits.max_file_bytes:
                continue
            try:
                with open(ref.path, "rb") as f:
                    data = f.read(limits.max_file_bytes + 1)
                img = decode_image(data, limits).image
                feats.append(orb_descriptors(img) if kind == "bovw" else describe(img))
            except Exception:  # unreadable, undecodable or a decoder bug: costs one image
                continue
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if not feats:
        raise XmodalError(f"none of the {len(files)} images under {folder} could be decoded")
    model: BovwModel | PcaModel
    if kind == "bovw":
        model = _fit_bovw_descriptors(feats, k_or_dim, seed)
    else:
        model = _fit_pca_descriptors(feats, k_or_dim)
    return model.save(out)


# -- encoders ------------------------------------------------------------------------------


class BovwEncoder(Encoder):
    """``classic:bovw@PATH``: tf-idf weighted visual-word histogram, square-rooted and
    L2-normalised. An image without keypoints (flat colour, tiny) embeds as the zero vector."""

    batch_size = 32

    def __init__(self, model: BovwModel, path: str) -> None:
        self.model = model
        self._spec = EncoderSpec(
            name=f"classic:bovw@{path}",
            weights=model.fingerprint,
            dim=model.k,
            modalities=frozenset({Modality.IMAGE}),
            preprocessing={
                "orb": {"nfeatures": model.nfeatures, "side": model.side, "bits": _ORB_BYTES * 8},
                "resample": "bilinear",
                "words": model.k,
                "weighting": "tf-idf",
                "power": 0.5,
            },
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.model.k), dtype=np.float32)
        return l2_normalize(np.stack([self.model.histogram(im) for im in images]))


class PcaEncoder(Encoder):
    """``classic:pca@PATH``: the classic descriptor, centred and projected, L2-normalised."""

    batch_size = 64

    def __init__(self, model: PcaModel, path: str) -> None:
        self.model = model
        self._spec = EncoderSpec(
            name=f"classic:pca@{path}",
            weights=model.fingerprint,
            dim=model.dim,
            modalities=frozenset({Modality.IMAGE}),
            preprocessing={"base": _PREPROCESSING, "pca": {"dim": model.dim, "whiten": False}},
        )

    @property
    def spec(self) -> EncoderSpec:
        return self._spec

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.model.dim), dtype=np.float32)
        return l2_normalize(np.stack([self.model.project(describe(im)) for im in images]))


def _available() -> tuple[bool, str]:
    return True, "built in; classic:bovw@PATH and classic:pca@PATH need a fitted model file"


@register(
    EncoderInfo(
        family="classic",
        description=(
            "colour histogram (CIELAB) + HOG + perceptual hash; image to image. "
            "Fitted variants: classic:bovw@PATH (ORB bag of visual words, tf-idf), "
            "classic:pca@PATH (PCA-compressed); make PATH with `xmodal models fit`"
        ),
        modalities=frozenset({Modality.IMAGE}),
        dim=_DIM,
        languages=(),
        size="0 MB (no weights)",
        available=_available,
    )
)
def _make(arg: str | None) -> Encoder:
    if arg is None:
        return ClassicEncoder()
    variant, sep, raw = arg.partition("@")
    if variant not in _KIND_CODES:
        raise UsageError(
            f"unknown classic variant {arg!r}; use classic, classic:bovw@PATH or classic:pca@PATH"
        )
    if not sep or not raw.strip():
        raise UsageError(
            f"classic:{variant} needs its fitted model file: classic:{variant}@PATH; "
            f"{_how_to_make(variant)}"
        )
    # the absolute path goes into the space's name, so the collection can reopen the encoder
    # from any working directory
    path = os.path.abspath(os.path.expanduser(raw))
    if variant == "bovw":
        return BovwEncoder(BovwModel.load(path), path)
    return PcaEncoder(PcaModel.load(path), path)
