"""Where xmodal keeps what it downloads, renders and exports between runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of xmodal's cache: ``$XMODAL_CACHE``, else ``~/.cache/xmodal``."""
    env = os.environ.get("XMODAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xmodal"


def default_collection() -> Path:
    """The collection commands use when given none: ``$XMODAL_DB``, else ``default`` in the
    per-user data folder (``$XDG_DATA_HOME/xmodal``, else ``~/.local/share/xmodal``)."""
    env = os.environ.get("XMODAL_DB")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    # the XDG specification says a relative value is invalid and must be ignored
    data = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return data / "xmodal" / "default"
