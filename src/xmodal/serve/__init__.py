"""The HTTP API and web page: ``create_app(collection, settings)`` and ``run``."""

from xmodal.serve.app import create_app
from xmodal.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
