"""``classic:pca@PATH``: the ``classic`` descriptor projected onto its principal axes, a
smaller vector in which the directions that vary most across the user's images dominate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

import numpy as np
from PIL import Image

from xmodal.encoders.base import l2_normalize
from xmodal.encoders.classic.descriptor import DIM, PREPROCESSING, describe
from xmodal.encoders.classic.encoder import FittedEncoder
from xmodal.encoders.classic.modelfile import FittedModel, ModelKind, check_int, require
from xmodal.errors import XmodalError


class PcaModel(FittedModel):
    """Principal axes of L2-normalised ``classic`` descriptors: the mean and the top ``dim``
    directions (rows), without whitening, so cosine similarity keeps its meaning."""

    kind: ClassVar[ModelKind] = "pca"

    def __init__(self, mean: np.ndarray, components: np.ndarray) -> None:
        mean = np.ascontiguousarray(mean, dtype=np.float32).ravel()
        components = np.ascontiguousarray(components, dtype=np.float32)
        if mean.shape != (DIM,):
            raise ValueError(f"mean must have the classic dimension {DIM}")
        if components.ndim != 2 or components.shape[1] != DIM or not 1 <= len(components) <= DIM:
            raise ValueError(f"components must be (1..{DIM}, {DIM})")
        self.mean = mean
        self.components = components
        self._mean64 = mean.astype(np.float64)
        self._comp64 = components.astype(np.float64)
        self._seal()

    @property
    def dim(self) -> int:
        return len(self.components)

    def payload(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "components": self.components}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> PcaModel:
        return cls(require(arrays, "mean", 1), require(arrays, "components", 2))

    def project(self, descriptor: np.ndarray) -> np.ndarray:
        """One classic descriptor into the reduced space, not yet normalised. Done one vector
        at a time so that the result does not depend on how images were batched."""
        x = np.asarray(descriptor, dtype=np.float64).ravel()
        norm = np.linalg.norm(x)
        x = x / norm if norm > 0 else x
        return (self._comp64 @ (x - self._mean64)).astype(np.float32)


def fit_pca(images: Iterable[Image.Image], dim: int = 64, seed: int = 0) -> PcaModel:
    """Fit a ``dim``-axis PCA of the ``classic`` descriptor on ``images``.

    The fit is exact (SVD) and so does not use ``seed``; it is accepted so that both fits are
    called alike."""
    check_int("dim", dim, 1, DIM)
    return fit_pca_descriptors([describe(im) for im in images], dim)


def fit_pca_descriptors(descriptors: Sequence[np.ndarray], dim: int) -> PcaModel:
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


class PcaEncoder(FittedEncoder):
    """``classic:pca@PATH``: the classic descriptor, centred and projected, L2-normalised."""

    batch_size = 64

    def __init__(self, model: PcaModel, path: str) -> None:
        self.model = model
        preprocessing = {"base": PREPROCESSING, "pca": {"dim": model.dim, "whiten": False}}
        super().__init__(model, path, model.dim, preprocessing)

    def vector(self, img: Image.Image) -> np.ndarray:
        return self.model.project(describe(img))
