"""Fitting a classic model on a sample of the images in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from xmodal.encoders.classic.bovw import BovwModel, fit_bovw_descriptors, orb_descriptors
from xmodal.encoders.classic.descriptor import DIM, describe
from xmodal.encoders.classic.modelfile import KIND_CODES, check_int
from xmodal.encoders.classic.pca import PcaModel, fit_pca_descriptors
from xmodal.errors import UsageError, XmodalError
from xmodal.progress import ProgressFactory, start_progress
from xmodal.records import Modality

if TYPE_CHECKING:
    from xmodal.media.walk import FileRef


def fit_from_folder(
    kind: Literal["bovw", "pca"],
    folder: Path,
    out: Path,
    *,
    sample: int = 2000,
    k_or_dim: int,
    seed: int = 0,
    progress: ProgressFactory | None = None,
) -> Path:
    """Fit a model of ``kind`` on up to ``sample`` images found under ``folder`` and save it
    to ``out``; returns the absolute path written. ``progress`` is told of each image used.

    The sample is drawn with ``seed`` from the sorted file list, so the same folder gives the
    same model; files that do not decode are passed over and the next ones taken instead.
    Images are decoded as indexing decodes them, so the model sees what the encoder will see.
    """
    from xmodal.media.walk import walk

    if kind not in KIND_CODES:
        raise UsageError(f"unknown model kind {kind!r}; use 'bovw' or 'pca'")
    check_int("sample", sample, 1, 10_000_000)
    if kind == "bovw":
        check_int("k", k_or_dim, 2, 65536)
    else:
        check_int("dim", k_or_dim, 1, DIM)
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UsageError(f"not a folder: {folder}")
    files = [f for f in walk([root]).files if f.modality is Modality.IMAGE]
    if not files:
        raise XmodalError(f"no images found under {folder}")
    feats = _features(kind, files, seed, sample, progress)
    if not feats:
        raise XmodalError(f"none of the {len(files)} images under {folder} could be decoded")
    model: BovwModel | PcaModel
    if kind == "bovw":
        model = fit_bovw_descriptors(feats, k_or_dim, seed)
    else:
        model = fit_pca_descriptors(feats, k_or_dim)
    return model.save(out)


def _features(
    kind: str, files: list[FileRef], seed: int, sample: int, progress: ProgressFactory | None
) -> list[np.ndarray]:
    """What the fit needs of up to ``sample`` images, drawn in a ``seed`` order."""
    from xmodal.media.files import read_image_file
    from xmodal.media.limits import DEFAULT_LIMITS

    order = np.random.default_rng(seed).permutation(len(files))
    bar = start_progress(progress, min(sample, len(files)))
    feats: list[np.ndarray] = []
    try:
        for i in order:
            if len(feats) >= sample:
                break
            ref = files[int(i)]
            try:
                img = read_image_file(ref.path, DEFAULT_LIMITS, ref.size).image
                feats.append(orb_descriptors(img) if kind == "bovw" else describe(img))
            except Exception:  # unreadable, undecodable or a decoder bug: costs one image
                continue
            bar.update(1)
    finally:
        bar.close()
    return feats
