"""The local Hugging Face cache: where it is, what it holds, and keeping loads offline."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """Make every Hugging Face call inside fail fast instead of reaching for the network.

    open_clip's text towers built on transformers call ``AutoConfig`` / ``AutoTokenizer``
    without ``local_files_only``; huggingface_hub reads its offline flag once at import, so
    the module constant is what has to change, and only for the duration of a load.
    """
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def hub_cache_dir() -> str:
    try:
        from huggingface_hub import constants
    except ImportError:
        return os.path.expanduser("~/.cache/huggingface/hub")
    return str(constants.HF_HUB_CACHE)


def cached_hub_file(repo_id: str, filename: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    hit = try_to_load_from_cache(repo_id, filename)
    return Path(hit) if isinstance(hit, str) and os.path.isfile(hit) else None


def hub_has_anything() -> bool:
    root = hub_cache_dir()
    try:
        return any(e.startswith("models--") for e in os.listdir(root))
    except OSError:
        return False
