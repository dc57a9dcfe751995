"""Running the app with uvicorn: one line with the address once it listens, a clean stop on
Ctrl-C."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

import uvicorn

from xmodal.collection import Collection
from xmodal.serve.app import create_app
from xmodal.serve.settings import ServeSettings


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Server(uvicorn.Server):
    """Says where it listens once the socket is bound (the port may have been chosen by the
    system)."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[str], None]) -> None:
        super().__init__(config)
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers and self.servers[0].sockets:
            port = self.servers[0].sockets[0].getsockname()[1]
            self.announce(url_of(self.config.host, port))


def serve(collection: Collection, settings: ServeSettings, announce: Callable[[str], None]) -> None:
    """Serve ``collection`` until interrupted; ``announce`` gets the URL once it listens."""
    config = uvicorn.Config(
        create_app(collection, settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
    )
    # uvicorn stops on SIGINT and then raises it again for the caller; here it has been
    # handled, so the stop is the normal end of the command
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config, announce).run()
