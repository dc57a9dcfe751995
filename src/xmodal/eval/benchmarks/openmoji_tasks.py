"""The OpenMoji benchmark's tasks other than the caption's own: built from the rendered
emojis and the paths their drawings and documents got (see :mod:`.openmoji`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from xmodal.datasets import openmoji as om
from xmodal.eval.benchmarks import Task, image_query, write_task


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


def text_document(emoji: om.Emoji) -> str:
    lines = [emoji.annotation]
    if emoji.tags:
        lines.append(", ".join(emoji.tags))
    return "\n".join(lines) + "\n"


def text_task(
    root: Path,
    name: str,
    description: str,
    texts: list[tuple[str, om.Emoji]],
    images_for: Callable[[Iterable[om.Emoji]], dict[str, int]],
) -> Task:
    merged: dict[str, tuple[str, list[om.Emoji]]] = {}
    for text, emoji in texts:
        if norm(text):
            merged.setdefault(norm(text), (text, []))[1].append(emoji)
    queries: list[tuple[str, str]] = []
    qrels: dict[str, dict[str, int]] = {}
    for n, (text, emojis) in enumerate(merged.values(), start=1):
        qid = f"{name}-{n:05d}"
        queries.append((qid, text))
        qrels[qid] = images_for(emojis)
    return write_task(
        root,
        name,
        queries,
        qrels,
        description=description,
        metric="recall@10",
        query_modality="text",
        target_modality="image",
    )


def i2t_task(
    root: Path,
    rendered: Sequence[om.Emoji],
    image_of: dict[str, str],
    text_of: dict[str, str],
) -> Task:
    # Drawings whose documents read the same are equally well described by each of them.
    same_text: dict[str, list[str]] = {}
    for e in rendered:
        same_text.setdefault(norm(text_document(e)), []).append(text_of[e.hexcode])
    queries: list[tuple[str, str]] = []
    qrels: dict[str, dict[str, int]] = {}
    for n, e in enumerate(sorted(rendered, key=lambda e: image_of[e.hexcode]), start=1):
        qid = f"i2t-{n:05d}"
        queries.append((qid, image_query(image_of[e.hexcode])))
        qrels[qid] = {t: 1 for t in same_text[norm(text_document(e))]}
    return write_task(
        root,
        "i2t",
        queries,
        qrels,
        description="drawing → its caption-and-tags document",
        metric="recall@10",
        query_modality="image",
        target_modality="text",
    )


def category_task(root: Path, rendered: Sequence[om.Emoji], image_of: dict[str, str]) -> Task:
    by_subgroup: dict[str, list[str]] = {}
    for e in rendered:
        if e.subgroup:
            by_subgroup.setdefault(e.subgroup, []).append(image_of[e.hexcode])
    queries: list[tuple[str, str]] = []
    qrels: dict[str, dict[str, int]] = {}
    n = 0
    for e in sorted(rendered, key=lambda e: image_of[e.hexcode]):
        own = image_of[e.hexcode]
        others = [p for p in by_subgroup.get(e.subgroup, []) if p != own]
        if not others:
            continue  # alone in its subgroup: nothing to find
        n += 1
        qid = f"category-{n:05d}"
        queries.append((qid, image_query(own)))
        qrels[qid] = {p: 1 for p in sorted(others)}
    return write_task(
        root,
        "category",
        queries,
        qrels,
        description="drawing → the other drawings of its OpenMoji subgroup",
        metric="map",
        query_modality="image",
        target_modality="image",
    )
