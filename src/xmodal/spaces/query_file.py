"""The file a query term names, checked the same way for every kind of media."""

from __future__ import annotations

import os

from xmodal.errors import UsageError
from xmodal.media.walk import modality_of
from xmodal.records import Modality


def query_file(value: str, modality: Modality) -> str:
    """The absolute path of the ``modality`` file that the term ``value`` names; a missing
    file or one of another kind is a usage error naming what was given."""
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isfile(path):
        raise UsageError(f"query {modality} not found: {value}")
    if modality_of(path) is not modality:
        raise UsageError(f"query {modality} is not a supported {modality} file: {value}")
    return path
