"""What a server is started with: where it listens, who may use it, and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xmodal.paths import cache_dir

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass(frozen=True, slots=True)
class ServeSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: required on every request except ``/healthz`` and the login form when set
    token: str | None = None
    #: exact origins allowed to call the API from another site; none by default
    cors_origins: tuple[str, ...] = ()
    #: uploads (and any request body) larger than this are refused with 413
    max_upload_bytes: int = 20 * 1024 * 1024
    #: uploaded pictures claiming more pixels than this are refused with 413
    max_upload_pixels: int = 40_000_000
    #: seconds a request may take before its response starts (slow uploads end with 408)
    request_timeout: float = 30.0
    #: largest ``k`` and ``offset + k`` a search may ask for
    max_k: int = 200
    max_depth: int = 2000
    #: where thumbnails are kept between runs
    thumb_dir: Path = field(default_factory=lambda: cache_dir() / "thumbs")
