"""Paired (image, text) training data: where it comes from and its frozen features (its
batches: :mod:`xmodal.learn.sampling`).

Sources:

- a prepared OpenMoji benchmark folder (``items.json`` lists each drawing's image, caption,
  tags, group and concept); :func:`prepare_openmoji_splits` prepares train, val and test
  side by side, since ``prepare`` renders only the split it is asked for;
- a manifest, ``image_path<TAB>text`` (``.tsv``/``.txt``) or ``image_path,text`` (``.csv``),
  with an optional third column naming the pair's category; relative image paths are read
  from the manifest's folder. The first column may name recordings instead
  (``audio_path<TAB>text``): an item-side encoder that embeds sound (``audio-classic``) reads
  them as it reads pictures.

Frozen encoder features are computed once and cached in an ``.npz`` (read back with
``allow_pickle=False``) whose name hashes the encoder's fingerprint and the file list, so a
changed encoder, a changed file or a different list never reuses stale features.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from PIL import Image

from xmodal.encoders.base import Encoder, EncoderSpec, TextRole
from xmodal.errors import DecodeError, UsageError, XmodalError
from xmodal.learn._io import atomic_write
from xmodal.progress import Progress, ProgressFactory
from xmodal.records import Modality

TextField = Literal["annotation", "tags", "document", "mixed"]
GroupField = Literal["group", "subgroup"]

ITEMS_FILE = "items.json"


@dataclass(frozen=True, slots=True)
class PairedData:
    """Pairs in a fixed order. ``groups`` is each pair's category (what the balanced sampler
    evens out; "" when unknown); ``concepts`` marks pairs that show the same thing (equal
    captions), which a loss must not treat as negatives of each other."""

    images: tuple[Path, ...]
    texts: tuple[str, ...]
    groups: tuple[str, ...]
    concepts: tuple[str, ...]
    ids: tuple[str, ...]
    source: str = ""
    #: other texts describing each pair (OpenMoji: the tags, the whole document), for
    #: training that draws one of a pair's texts per step; empty when there are none
    views: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.images)
        if not (len(self.texts) == len(self.groups) == len(self.concepts) == len(self.ids) == n):
            raise ValueError("every field of PairedData needs one entry per pair")
        if any(len(v) != n for v in self.views):
            raise ValueError("every text view of PairedData needs one entry per pair")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> PairedData:
        idx = [int(i) for i in indices]
        return replace(
            self,
            images=tuple(self.images[i] for i in idx),
            texts=tuple(self.texts[i] for i in idx),
            groups=tuple(self.groups[i] for i in idx),
            concepts=tuple(self.concepts[i] for i in idx),
            ids=tuple(self.ids[i] for i in idx),
            views=tuple(tuple(v[i] for i in idx) for v in self.views),
        )

    def with_images(self, rows: Sequence[int], images: Sequence[Path], prefix: str) -> PairedData:
        """These pairs plus, for each ``rows[k]``, a pair of ``images[k]`` with that row's
        texts, category and concept: the same thing drawn another way."""
        more = self.subset(rows)
        return PairedData(
            self.images + tuple(images),
            self.texts + more.texts,
            self.groups + more.groups,
            self.concepts + more.concepts,
            self.ids + tuple(f"{prefix}{i}" for i in more.ids),
            self.source,
            tuple(a + b for a, b in zip(self.views, more.views, strict=True)),
        )

    def text_views(self) -> list[tuple[str, ...]]:
        """The main texts, then each other view (an empty text falls back to the main one)."""
        return [self.texts] + [
            tuple(t or m for t, m in zip(v, self.texts, strict=True)) for v in self.views
        ]

    def concept_ids(self) -> np.ndarray:
        """One integer per pair, equal for pairs of one concept (for the losses' groups)."""
        codes: dict[str, int] = {}
        return np.array([codes.setdefault(c, len(codes)) for c in self.concepts], dtype=np.int64)


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def load_openmoji(
    root: str | os.PathLike[str],
    text_field: TextField = "annotation",
    group_field: GroupField = "group",
) -> PairedData:
    """The pairs of a folder made by ``xmodal.eval.benchmarks.openmoji.prepare``.

    ``text_field``: the caption alone (what the benchmark's t2i queries are), the tags, or
    the whole text document (caption and tags); ``mixed`` is the caption, with the tags,
    the document and, for each other language the folder names its emojis in (its
    ``names``), that language's name and keywords as the other ``views`` of each pair."""
    base = Path(root).expanduser().absolute()
    path = base / ITEMS_FILE
    if not path.is_file():
        raise UsageError(f"{base} is not a prepared OpenMoji folder (no {ITEMS_FILE})")
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    langs = sorted({lang for it in items for lang in it.get("names") or {}})
    kept: list[dict[str, Any]] = []
    texts: list[str] = []
    for it in items:
        text = _openmoji_text(base, it, text_field)
        if text.strip():
            kept.append(it)
            texts.append(text)
    if not kept:
        raise XmodalError(f"{path} lists no pairs with text in {text_field!r}")
    views: tuple[tuple[str, ...], ...] = ()
    if text_field == "mixed":
        views = (
            tuple(", ".join(it.get("tags", [])) for it in kept),
            tuple(_openmoji_text(base, it, "document") for it in kept),
            *(view for lang in langs for view in _language_views(kept, lang)),
        )
    return PairedData(
        tuple(base / it["image"] for it in kept),
        tuple(texts),
        tuple(str(it.get(group_field, "")) for it in kept),
        tuple(str(it.get("concept", it["hexcode"])) for it in kept),
        tuple(str(it["hexcode"]) for it in kept),
        str(base),
        views,
    )


def _openmoji_text(base: Path, item: dict[str, Any], text_field: str) -> str:
    if text_field in ("annotation", "mixed"):
        return str(item["annotation"])
    if text_field == "tags":
        return ", ".join(item.get("tags", []))
    return (base / item["text"]).read_text(encoding="utf-8").strip()


def _language_views(items: Sequence[dict[str, Any]], lang: str) -> list[tuple[str, ...]]:
    """The name and the keywords in ``lang`` of each item ("" where it has none: the view
    then falls back to the caption)."""
    names = [(it.get("names") or {}).get(lang) or {} for it in items]
    return [
        tuple(str(n.get("annotation", "")) for n in names),
        tuple(", ".join(n.get("tags") or []) for n in names),
    ]


def attached_texts(data: PairedData) -> list[str]:
    """The text attached to each pair's item, for fusion: an OpenMoji emoji's tags ("" when it
    has none). Pairs added from other drawing styles (ids ``style:HEXCODE``) get their
    emoji's tags too."""
    base = Path(data.source)
    path = base / ITEMS_FILE
    if not path.is_file():
        raise UsageError(
            "fusion methods need attached text per item: train on a prepared OpenMoji folder"
        )
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    tags = {str(it["hexcode"]): ", ".join(it.get("tags", [])) for it in items}
    return [tags.get(i.rpartition(":")[2], "") for i in data.ids]


def load_manifest(path: str | os.PathLike[str]) -> PairedData:
    """Pairs from a CSV (comma) or TSV (tab; any other extension) manifest of
    ``image_path, text[, category]`` rows. A first row ``image_path, text...`` is a header."""
    p = Path(path).expanduser().absolute()
    if not p.is_file():
        raise UsageError(f"manifest not found: {path}")
    delimiter = "," if p.suffix.lower() == ".csv" else "\t"
    with open(p, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    header = ("image_path", "image", "path", "audio_path", "audio")
    if rows and rows[0] and rows[0][0].strip().lower() in header:
        rows = rows[1:]
    images: list[Path] = []
    texts: list[str] = []
    groups: list[str] = []
    for n, row in enumerate(rows, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise UsageError(f"{p}: row {n} needs an image path and a text, got {row!r}")
        img = Path(row[0].strip()).expanduser()
        images.append(img if img.is_absolute() else p.parent / img)
        texts.append(row[1].strip())
        groups.append(row[2].strip() if len(row) > 2 else "")
    if not images:
        raise UsageError(f"manifest {p} lists no pairs")
    # pairs with the same caption describe the same thing whatever their images
    concepts = tuple(_norm(t) for t in texts)
    ids = tuple(f"{n:06d}" for n in range(len(images)))
    return PairedData(tuple(images), tuple(texts), tuple(groups), concepts, ids, str(p))


def load_pairs(source: str | os.PathLike[str], text_field: TextField = "annotation") -> PairedData:
    """A prepared OpenMoji folder or a manifest file, by what ``source`` is."""
    p = Path(source).expanduser()
    if p.is_dir():
        return load_openmoji(p, text_field)
    return load_manifest(p)


def prepare_openmoji_splits(
    out: str | os.PathLike[str],
    splits: Sequence[str] = ("train", "val", "test"),
    *,
    seed: int = 0,
    size: int = 96,
    limit: int | None = None,
    progress: ProgressFactory | None = None,
    extracted: Path | None = None,
) -> dict[str, Path]:
    """Prepare each of ``splits`` of OpenMoji into ``out/SPLIT`` (the benchmark's concept
    split, so no test caption is ever trained on); returns the folders."""
    from xmodal.eval.benchmarks.openmoji import prepare

    root = Path(out).expanduser().absolute()
    done: dict[str, Path] = {}
    for split in splits:
        layout = prepare(
            root / split,
            split=split,
            seed=seed,
            size=size,
            limit=limit,
            progress=progress,
            extracted=extracted,
        )
        done[split] = layout.root
    return done


# -- frozen features, cached ---------------------------------------------------------------


def file_list_hash(paths: Sequence[Path]) -> str:
    """Hash of the files' paths, sizes and modification times (not their bytes: a cache
    lookup should not cost a read of every file)."""
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def text_list_hash(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def feature_cache_key(spec: EncoderSpec, list_hash: str, extra: str = "") -> str:
    h = hashlib.sha256()
    h.update(spec.fingerprint().encode())
    h.update(b"\0" + list_hash.encode() + b"\0" + extra.encode())
    return h.hexdigest()[:24]


def _cache_read(path: Path, rows: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            x = np.asarray(npz["features"], dtype=np.float32)
    except Exception:  # a damaged cache file is recomputed, not trusted
        return None
    if x.ndim != 2 or len(x) != rows or not np.all(np.isfinite(x)):
        return None
    return x


def _cache_write(path: Path, x: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, features=x)

    atomic_write(path, write)


def read_image(path: Path, max_side: int | None = None) -> Image.Image:
    """Decode as indexing decodes (same limits, EXIF rotation, RGB; no larger than
    ``max_side``, the side the encoder asks for), so that a model trains on the pixels the
    collection will show it."""
    from xmodal.media.files import read_image_file
    from xmodal.media.limits import DEFAULT_LIMITS

    limits = DEFAULT_LIMITS if max_side is None else replace(DEFAULT_LIMITS, max_side=max_side)
    try:
        return read_image_file(path, limits).image
    except DecodeError as e:
        raise XmodalError(f"training image {path}: {e}") from None


def read_audio(path: Path) -> np.ndarray:
    """The first seconds of a recording as an audio query embeds them (16 kHz mono float32,
    decoded within the indexing limits)."""
    from xmodal.ingest.audio import QUERY_SECONDS
    from xmodal.media.audio import decode_audio
    from xmodal.media.limits import DEFAULT_LIMITS

    try:
        return decode_audio(path, DEFAULT_LIMITS).span(0.0, QUERY_SECONDS)
    except DecodeError as e:
        raise XmodalError(f"training recording {path}: {e}") from None


def embeds_audio(encoder: Encoder) -> bool:
    """The item side of a pair is a recording when its encoder hears rather than sees."""
    mods = encoder.spec.modalities
    return Modality.AUDIO in mods and Modality.IMAGE not in mods


def encoder_input_side(encoder: Encoder) -> int | None:
    """The image side an encoder asks indexing to decode to (None: the default limit)."""
    side = getattr(encoder, "input_side", None)
    return int(side) if side else None


def image_features(
    data: PairedData,
    encoder: Encoder,
    cache_dir: Path | None = None,
    progress: ProgressFactory | None = None,
) -> np.ndarray:
    """``(n, dim)`` features of the pairs' images (or recordings, for an encoder of sound) by
    a frozen ``encoder``, cached; items embedded are reported to ``progress``."""
    cache = None
    if cache_dir is not None:
        key = feature_cache_key(encoder.spec, file_list_hash(data.images), "image")
        cache = Path(cache_dir) / f"image-{key}.npz"
        hit = _cache_read(cache, len(data))
        if hit is not None:
            return hit
    side = encoder_input_side(encoder)

    def embed(paths: list[Path]) -> np.ndarray:
        if embeds_audio(encoder):
            return encoder.encode_audio([read_audio(p) for p in paths])
        return encoder.encode_images([read_image(p, side) for p in paths])

    x = _embed_in_batches(
        list(data.images),
        max(1, encoder.batch_size),
        embed,
        encoder.spec.dim,
        None if progress is None else progress(len(data)),
    )
    if cache is not None:
        _cache_write(cache, x)
    return x


T = TypeVar("T")


def _embed_in_batches(
    items: list[T],
    step: int,
    embed: Callable[[list[T]], np.ndarray],
    dim: int,
    bar: Progress | None,
) -> np.ndarray:
    """``embed`` over ``items`` ``step`` at a time, rows stacked as float32."""
    parts: list[np.ndarray] = []
    try:
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            parts.append(np.asarray(embed(chunk), dtype=np.float32))
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)


def text_features(
    data: PairedData,
    encoder: Encoder,
    cache_dir: Path | None = None,
    role: TextRole = "query",
    progress: ProgressFactory | None = None,
) -> np.ndarray:
    """``(n, dim)`` features of the pairs' texts by a frozen ``encoder``, cached; texts
    embedded are reported to ``progress``.

    ``role`` defaults to ``query``: the captions stand for what a user types to find the
    picture, and role-aware encoders (E5) embed queries differently from documents."""
    texts = list(data.texts)
    cache = None
    if cache_dir is not None:
        key = feature_cache_key(encoder.spec, text_list_hash(texts), f"text:{role}")
        cache = Path(cache_dir) / f"text-{key}.npz"
        hit = _cache_read(cache, len(data))
        if hit is not None:
            return hit
    # pairs of one emoji in several drawing styles share their texts: each is embedded once
    unique = list(dict.fromkeys(texts))
    row = {t: n for n, t in enumerate(unique)}
    x_unique = _embed_in_batches(
        unique,
        max(1, encoder.batch_size) * 4,
        lambda chunk: encoder.encode_texts(chunk, role=role),
        encoder.spec.dim,
        None if progress is None else progress(len(unique)),
    )
    x = x_unique[[row[t] for t in texts]] if texts else x_unique
    if cache is not None:
        _cache_write(cache, x)
    return x


def pixel_arrays(
    data: PairedData,
    size: int,
    cache_dir: Path | None = None,
    progress: ProgressFactory | None = None,
    decode_side: int | None = None,
) -> np.ndarray:
    """``(n, size, size, 3)`` uint8 pictures for a CNN, decoded once (no larger than
    ``decode_side``, as indexing will decode them) and squashed to ``size``; pictures
    decoded are reported to ``progress``."""
    cache = None
    if cache_dir is not None:
        ident = f"{file_list_hash(data.images)}\0{size}\0{decode_side}"
        key = hashlib.sha256(ident.encode()).hexdigest()[:24]
        cache = Path(cache_dir) / f"pixels-{key}.npz"
        if cache.is_file():
            try:
                with np.load(cache, allow_pickle=False) as npz:
                    arr = np.asarray(npz["features"])
                if arr.shape == (len(data), size, size, 3) and arr.dtype == np.uint8:
                    return arr
            except Exception:  # a damaged cache file is rebuilt
                pass
    bar = None if progress is None else progress(len(data))
    out = np.zeros((len(data), size, size, 3), dtype=np.uint8)
    try:
        for n, p in enumerate(data.images):
            img = read_image(p, decode_side)
            out[n] = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if cache is not None:
        _cache_write(cache, out)
    return out
