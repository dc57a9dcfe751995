"""The OpenMoji benchmark: real drawings with human captions, split by concept.

An emoji and its skin-tone variants are one concept, and so are emojis that share a caption
(OpenMoji draws "brain" or "white flag" twice): a concept lies wholly in one split, so a
model trained on the train split has never seen a test caption or a variant of a test
drawing. ``splits.json`` records the split for training code.

For the chosen split the folder holds the rendered drawings (``images/``) and one text
document per drawing with its caption and tags (``texts/``). Neither carries the emoji's
words in a file name or sidecar, so text→image retrieval has to read the pixels. Images and
texts are numbered by two independent seeded permutations: neither the names nor the order
in which a collection assigns ids tells which text goes with which image.

Tasks:

- ``t2i``: the caption finds the drawing (and, when included, its skin-tone variants);
- ``t2i-tags``: the comma-separated tags find the drawing;
- ``i2t``: the drawing finds its text document;
- ``category``: a drawing finds the other drawings of its OpenMoji subgroup (mAP).

Identical query texts within a split are merged into one query whose relevant set holds
every drawing they describe, so no relevant answer is judged wrong.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmodal.datasets import emoji_names as names
from xmodal.datasets import openmoji as om
from xmodal.errors import XmodalError
from xmodal.eval.benchmarks import (
    BenchmarkLayout,
    Staging,
    Task,
    atomic_write_text,
    load_layout,
    register_benchmark,
    write_manifest,
)
from xmodal.eval.benchmarks.openmoji_tasks import (
    category_task,
    i2t_task,
    norm,
    text_document,
    text_task,
)
from xmodal.eval.benchmarks.options import doc, make_options
from xmodal.progress import ProgressFactory

NAME = "openmoji"
SPLITS = ("train", "val", "test")
FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}
SPLITS_FILE = "splits.json"
ITEMS_FILE = "items.json"


@dataclass(frozen=True, slots=True)
class Concept:
    """Emojis that must stay together: base drawings sharing a caption, and their variants."""

    key: str  # the smallest base hexcode, stable across runs
    bases: tuple[om.Emoji, ...]
    variants: tuple[om.Emoji, ...]

    @property
    def hexcodes(self) -> list[str]:
        return [e.hexcode for e in (*self.bases, *self.variants)]


def concepts(emojis: Sequence[om.Emoji]) -> list[Concept]:
    """Group emojis (loaded with skin tones) into concepts, sorted by key."""
    bases = [e for e in emojis if not e.skintone]
    by_hex = {e.hexcode: e for e in bases}
    # Union-find over base hexcodes: variants join their base, equal captions join each other.
    parent = {h: h for h in by_hex}

    def find(h: str) -> str:
        while parent[h] != h:
            parent[h] = parent[parent[h]]
            h = parent[h]
        return h

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_with_caption: dict[str, str] = {}
    for e in bases:
        caption = _norm(e.annotation)
        if caption:
            union(e.hexcode, first_with_caption.setdefault(caption, e.hexcode))

    members: dict[str, tuple[list[om.Emoji], list[om.Emoji]]] = {}
    for e in bases:
        members.setdefault(find(e.hexcode), ([], []))[0].append(e)
    for e in emojis:
        if not e.skintone:
            continue
        if e.base_hexcode not in by_hex:
            # A variant whose base is missing is its own concept rather than lost.
            parent.setdefault(e.base_hexcode, e.base_hexcode)
        members.setdefault(find(e.base_hexcode), ([], []))[1].append(e)
    return [
        Concept(key, tuple(b), tuple(v))
        for key, (b, v) in sorted(members.items(), key=lambda kv: kv[0])
    ]


def split_concepts(all_concepts: Sequence[Concept], seed: int = 0) -> dict[str, list[Concept]]:
    """Shuffle the concepts with ``seed`` and cut them 70/10/20 into train, val and test."""
    order = sorted(all_concepts, key=lambda c: c.key)
    random.Random(f"openmoji-split-{seed}").shuffle(order)
    n = len(order)
    n_train = round(n * FRACTIONS["train"])
    n_val = round(n * FRACTIONS["val"])
    return {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }


def read_splits(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Every hexcode (variants included) of each split, from a ``splits.json``."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: list(raw["hexcodes"][name]) for name in SPLITS}


@dataclass(frozen=True, slots=True)
class SplitOptions:
    """Options of every benchmark built on OpenMoji's concept split."""

    split: str = field(default="test", metadata=doc("which split: train, val or test"))
    seed: int = field(
        default=0, metadata=doc("seed of the concept split and of the file numbering")
    )
    size: int = field(default=96, metadata=doc("image side in pixels"))
    limit: int | None = field(default=None, metadata=doc("at most this many concepts"))
    include_skin_tones: bool = field(
        default=False, metadata=doc("add the skin-tone variants of each emoji")
    )
    extracted: Path | None = field(
        default=None, metadata=doc("an unpacked OpenMoji package, instead of fetching")
    )
    languages: str = field(
        default="en,zh",
        metadata=doc("languages of each item's names and keywords: en, or en,zh (CLDR's)"),
    )
    names_extracted: Path | None = field(
        default=None, metadata=doc("an unpacked emojibase-data package, instead of fetching")
    )

    def split_params(self) -> dict[str, Any]:
        """What a benchmark's manifest records of these options (``extracted`` is only where
        the package came from, so it is left out)."""
        return {
            "openmoji_version": om.VERSION,
            "split": self.split,
            "seed": self.seed,
            "size": self.size,
            "limit": self.limit,
            "include_skin_tones": self.include_skin_tones,
            "languages": ",".join(names.parse_languages(self.languages)),
        }

    def other_names(self, chosen: Sequence[Concept]) -> dict[str, dict[str, names.Names]]:
        """Per language other than English, the names of the emojis of ``chosen`` (those
        the language names), fetched only when a language asks for them."""
        langs = [lang for lang in names.parse_languages(self.languages) if lang != "en"]
        if not langs:
            return {}
        source = self.names_extracted if self.names_extracted is not None else names.fetch()
        hexcodes = [h for c in chosen for h in c.hexcodes]
        return {lang: names.names_for(hexcodes, names.load_names(source, lang)) for lang in langs}

    def attribution(self, base: str) -> str:
        """``base`` plus the credit of the names in other languages, when there are any."""
        if names.parse_languages(self.languages) == ("en",):
            return base
        return base + "\n" + names.ATTRIBUTION


@dataclass(frozen=True, slots=True)
class OpenMojiOptions(SplitOptions):
    """What ``bench prepare openmoji`` takes."""

    oracle_captions: bool = field(
        default=False,
        metadata=doc("give each drawing its caption as a sidecar (an upper-bound baseline)"),
    )


def prepare(
    out: Path, *, progress: ProgressFactory | None = None, **options: Any
) -> BenchmarkLayout:
    """Prepare the OpenMoji benchmark for a split in ``out`` (replacing an earlier one).

    ``options`` are the fields of :class:`OpenMojiOptions`. ``limit`` keeps the first N
    concepts of the split, for quick runs. ``extracted`` uses an unpacked OpenMoji package
    instead of :func:`xmodal.datasets.openmoji.fetch`. ``oracle_captions`` gives every
    drawing a sidecar holding its caption and tags: the answer key itself, for an
    upper-bound ("oracle") baseline that reads it.
    """
    opts = make_options(OpenMojiOptions, options, benchmark=NAME)
    check_split(opts.split, opts.limit)
    source = opts.extracted if opts.extracted is not None else om.fetch()
    parts = load_split(source, opts.split, opts.seed)
    chosen = parts[opts.split][: opts.limit] if opts.limit is not None else parts[opts.split]

    params = {**opts.split_params(), "oracle_captions": opts.oracle_captions}

    def render(emojis: Sequence[om.Emoji], render_dir: Path) -> None:
        om.rasterise(emojis, source, render_dir, opts.size, sidecars=False, progress=progress)

    oracle = " - ORACLE: every drawing carries its caption" if opts.oracle_captions else ""
    with Staging(out) as root:
        write_splits(root / SPLITS_FILE, parts, opts.seed)
        layout = build(
            root,
            chosen,
            render,
            params,
            name=NAME,
            description="OpenMoji drawings with their captions and tags (CC BY-SA 4.0)" + oracle,
            attribution=opts.attribution(om.ATTRIBUTION),
            other_names=opts.other_names(chosen),
        )
        write_manifest(layout)
    return load_layout(out)


def check_split(split: str, limit: int | None) -> None:
    """Refuse a bad split name or limit before anything is downloaded."""
    if split not in SPLITS:
        raise XmodalError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if limit is not None and limit < 1:
        raise XmodalError(f"limit must be positive, got {limit}")


def load_split(source: Path, split: str, seed: int) -> dict[str, list[Concept]]:
    """Every split of an unpacked OpenMoji package."""
    check_split(split, None)
    return split_concepts(concepts(om.load_emojis(source, include_skin_tones=True)), seed)


# --- building ---------------------------------------------------------------------------


_norm = norm


def write_splits(path: Path, parts: dict[str, list[Concept]], seed: int) -> None:
    data = {
        "openmoji_version": om.VERSION,
        "seed": seed,
        "fractions": FRACTIONS,
        "concepts": {name: [c.key for c in parts[name]] for name in SPLITS},
        "hexcodes": {name: sorted(h for c in parts[name] for h in c.hexcodes) for name in SPLITS},
    }
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


_text_document = text_document


def _numbering(count: int, rng: random.Random) -> list[int]:
    numbers = list(range(1, count + 1))
    rng.shuffle(numbers)
    return numbers


def members(chosen: Sequence[Concept], include_skin_tones: bool) -> list[om.Emoji]:
    """The emojis of ``chosen`` that get a drawing and a text document."""
    emojis = (e for c in chosen for e in (*c.bases, *(c.variants if include_skin_tones else ())))
    # A drawing without words would get an empty text document, which indexing refuses.
    return [e for e in emojis if _text_document(e).strip()]


def _write_documents(
    root: Path,
    rendered: Sequence[om.Emoji],
    render_dir: Path,
    concept_of: Mapping[str, Concept],
    params: Mapping[str, Any],
    other_names: Mapping[str, Mapping[str, names.Names]],
) -> tuple[dict[str, str], dict[str, str]]:
    """Move each drawing into ``images/`` and write its text document and ``items.json``;
    returns each hexcode's image and text paths, relative to ``root``."""
    seed: int = params["seed"]
    (root / "images").mkdir()
    (root / "texts").mkdir()
    numbering = random.Random(f"openmoji-names-{seed}")
    image_numbers = _numbering(len(rendered), numbering)
    text_numbers = _numbering(len(rendered), numbering)
    image_of: dict[str, str] = {}
    text_of: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    for emoji, i_num, t_num in zip(rendered, image_numbers, text_numbers, strict=True):
        image_rel = f"images/img-{i_num:06d}.png"
        text_rel = f"texts/{t_num:06d}.txt"
        os.replace(om.image_path(emoji, render_dir), root / image_rel)
        if params.get("oracle_captions"):
            sidecar = {"caption": emoji.annotation, "tags": list(emoji.tags)}
            atomic_write_text(
                (root / image_rel).with_suffix(".json"), json.dumps(sidecar, ensure_ascii=False)
            )
        atomic_write_text(root / text_rel, _text_document(emoji))
        image_of[emoji.hexcode] = image_rel
        text_of[emoji.hexcode] = text_rel
        items.append(
            {
                **_names_field(emoji, other_names),
                "hexcode": emoji.hexcode,
                "base_hexcode": emoji.base_hexcode,
                "concept": concept_of[emoji.hexcode].key,
                "annotation": emoji.annotation,
                "tags": list(emoji.tags),
                "group": emoji.group,
                "subgroup": emoji.subgroup,
                "image": image_rel,
                "text": text_rel,
            }
        )
    items.sort(key=lambda it: it["image"])
    atomic_write_text(root / ITEMS_FILE, json.dumps(items, indent=1, ensure_ascii=False) + "\n")
    return image_of, text_of


def _names_field(
    emoji: om.Emoji, other_names: Mapping[str, Mapping[str, names.Names]]
) -> dict[str, Any]:
    """``{"names": {lang: {"annotation", "tags"}}}`` for the languages that name ``emoji``
    (a skin-tone variant without its own entry takes its base emoji's)."""
    found: dict[str, Any] = {}
    for lang, table in other_names.items():
        entry = table.get(emoji.hexcode) or table.get(emoji.base_hexcode)
        if entry is not None:
            found[lang] = {"annotation": entry.annotation, "tags": list(entry.tags)}
    return {"names": found} if found else {}


def _tasks(
    root: Path,
    rendered: Sequence[om.Emoji],
    image_of: dict[str, str],
    text_of: dict[str, str],
) -> list[Task]:
    variants_of: dict[str, list[om.Emoji]] = {}
    for e in rendered:
        if e.skintone:
            variants_of.setdefault(e.base_hexcode, []).append(e)

    def images_for(bases: Iterable[om.Emoji]) -> dict[str, int]:
        # A caption names the drawing and every skin tone of it that is in the collection.
        return {
            image_of[e.hexcode]: 1
            for base in bases
            for e in (base, *variants_of.get(base.hexcode, ()))
        }

    bases = [e for e in rendered if not e.skintone]
    return [
        text_task(
            root,
            "t2i",
            "caption (annotation) → its drawing",
            [(e.annotation, e) for e in bases],
            images_for,
        ),
        text_task(
            root,
            "t2i-tags",
            "comma-separated tags → the drawing",
            [(", ".join(e.tags), e) for e in bases if e.tags],
            images_for,
        ),
        i2t_task(root, rendered, image_of, text_of),
        category_task(root, rendered, image_of),
    ]


def build(
    root: Path,
    chosen: Sequence[Concept],
    render: Callable[[Sequence[om.Emoji], Path], object],
    params: dict[str, Any],
    *,
    name: str,
    description: str,
    attribution: str,
    counts: dict[str, int] | None = None,
    other_names: Mapping[str, Mapping[str, names.Names]] | None = None,
) -> BenchmarkLayout:
    """Write the images, texts and tasks of ``chosen`` into ``root``; returns the layout.

    ``render(emojis, folder)`` draws each emoji it can to
    :func:`xmodal.datasets.openmoji.image_path` under ``folder``, in whatever style; the
    emojis it leaves out are left out of the benchmark. ``params`` needs ``seed`` and
    ``include_skin_tones``; ``counts`` adds to the counts of concepts, images and texts.
    ``other_names`` (language → hexcode → names) gives ``items.json`` each emoji's name and
    keywords in other languages, for training; the tasks' queries stay English.
    """
    emojis = members(chosen, params["include_skin_tones"])
    concept_of = {e.hexcode: c for c in chosen for e in (*c.bases, *c.variants)}

    render_dir = root / ".render"
    render(emojis, render_dir)
    rendered = [e for e in emojis if om.image_path(e, render_dir).is_file()]
    if not rendered:
        raise XmodalError(f"{name}: no drawing of the split could be rendered")

    image_of, text_of = _write_documents(
        root, rendered, render_dir, concept_of, params, other_names or {}
    )
    shutil.rmtree(render_dir)
    atomic_write_text(root / "ATTRIBUTION.txt", attribution)

    return BenchmarkLayout(
        name=name,
        root=root,
        documents=(root / "images", root / "texts"),
        tasks=tuple(_tasks(root, rendered, image_of, text_of)),
        description=description,
        params=params,
        counts={
            "concepts": len(chosen),
            "images": len(rendered),
            "texts": len(rendered),
            **(counts or {}),
        },
    )


register_benchmark(NAME, prepare)
