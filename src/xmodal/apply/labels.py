"""Label sets for zero-shot tagging: the built-in ones, and the user's own files.

A label file holds one label per line, in any language; blank lines and lines starting with
``#`` are skipped. A line may give the words to embed after a bar, several separated by
semicolons (``smileys-emotion | a smiling face ; an emoji face``): the label is what is
stored and filtered on, the prompts are what the encoders embed (their mean, when several).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

from xmodal.errors import UsageError

#: built-in label sets, by name (files in ``xmodal/apply/labels/``)
BUILTIN = {"openmoji-groups": "openmoji-groups.txt", "photo": "photo.txt"}


@dataclass(frozen=True, slots=True)
class LabelSet:
    """Labels and, for each, the texts its vector is the mean of."""

    name: str
    labels: tuple[str, ...]
    prompts: tuple[tuple[str, ...], ...]


def parse_labels(text: str, name: str) -> LabelSet:
    labels: list[str] = []
    prompts: list[tuple[str, ...]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        label, _, rest = line.partition("|")
        label = label.strip()
        said = tuple(p.strip() for p in rest.split(";") if p.strip()) or (label,)
        if not label:
            raise UsageError(f"label set {name}: a line has prompts but no label: {line!r}")
        if label in labels:
            continue
        labels.append(label)
        prompts.append(said)
    if not labels:
        raise UsageError(f"label set {name} holds no labels (one label per line)")
    return LabelSet(name, tuple(labels), tuple(prompts))


def load_labels(spec: str) -> LabelSet:
    """The built-in set named ``spec``, else the label file at path ``spec``."""
    if spec in BUILTIN:
        text = resources.files("xmodal.apply").joinpath("labels", BUILTIN[spec]).read_text("utf-8")
        return parse_labels(text, spec)
    path = os.path.expanduser(spec)
    if not os.path.isfile(path):
        known = ", ".join(sorted(BUILTIN))
        raise UsageError(f"no label file {spec!r} and no built-in label set of that name ({known})")
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read label file {spec}: {e}") from None
    return parse_labels(text, os.path.basename(path))
