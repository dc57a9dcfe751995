"""Where xmodal keeps what it downloads, renders and exports between runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of xmodal's cache: ``$XMODAL_CACHE``, else ``~/.cache/xmodal``."""
    env = os.environ.get("XMODAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xmodal"
