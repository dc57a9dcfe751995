"""What a collection is for, beyond search: zero-shot tags, near-duplicates, more like this,
descriptions and content-policy flags. Each works on a collection's store and its spaces.

The names below load their module on first use: the command line reads a few defaults from
this package to build its help, and a search should not pay for pHash, the answer's sentence
splitter or the evaluation report to do so.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# these two share their module's name: bound here, so that importing the module (which sets
# the package's attribute to it) cannot hide the function; both are light
from xmodal.apply.describe import Description, describe
from xmodal.apply.similar import similar

if TYPE_CHECKING:
    from xmodal.apply.dupes import DupeGroup, DupeReport, find_duplicates
    from xmodal.apply.labels import LabelSet, load_labels, parse_labels
    from xmodal.apply.policy import FlagReport, Rule, flag_collection, load_policy, parse_policy
    from xmodal.apply.tagging import TagReport, tag_collection

_HOME = {
    "DupeGroup": "dupes",
    "DupeReport": "dupes",
    "find_duplicates": "dupes",
    "LabelSet": "labels",
    "load_labels": "labels",
    "parse_labels": "labels",
    "FlagReport": "policy",
    "Rule": "policy",
    "flag_collection": "policy",
    "load_policy": "policy",
    "parse_policy": "policy",
    "TagReport": "tagging",
    "tag_collection": "tagging",
}

__all__ = [
    "Description",
    "DupeGroup",
    "DupeReport",
    "FlagReport",
    "LabelSet",
    "Rule",
    "TagReport",
    "describe",
    "find_duplicates",
    "flag_collection",
    "load_labels",
    "load_policy",
    "parse_labels",
    "parse_policy",
    "similar",
    "tag_collection",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
