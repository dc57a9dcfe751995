"""What a collection is for, beyond search: zero-shot tags, near-duplicates, more like this,
descriptions and content-policy flags. Each works on a collection's store and its spaces."""

from xmodal.apply.describe import Description, describe
from xmodal.apply.dupes import DupeGroup, DupeReport, find_duplicates
from xmodal.apply.labels import LabelSet, load_labels, parse_labels
from xmodal.apply.policy import FlagReport, Rule, flag_collection, load_policy, parse_policy
from xmodal.apply.similar import similar
from xmodal.apply.tagging import TagReport, tag_collection

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
