"""Who may talk to the server and which files it may read.

Off loopback every request needs the token (``Authorization: Bearer``, or the cookie the
login form sets). On loopback with no token, the ``Host`` header must name the loopback
itself, so a web page cannot reach the server through a DNS name rebound to 127.0.0.1.
A file is served only when its real path lies under the folders the collection was indexed
from, checked at the moment it is served.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "xmodal_session"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: reachable without the token: the liveness probe, the login form and what it needs
OPEN_PATHS = frozenset({"/healthz", "/login", "/static/style.css"})


def is_loopback(host: str) -> bool:
    if host.strip("[]") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def session_value(token: str) -> str:
    """What the login cookie holds: derived from the token, so the cookie is not the token."""
    return hmac.new(token.encode(), b"xmodal-session", hashlib.sha256).hexdigest()


def token_equal(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def token_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token_equal(given.strip(), token):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class AccessMiddleware:
    """Refuses requests without the token, or, with no token set, from a foreign ``Host``."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, request: Request) -> Response | None:
        if self.token is None:
            if is_loopback(_host_name(request)):
                return None
            return JSONResponse({"error": "this server answers only on its loopback address"}, 421)
        if request.url.path in OPEN_PATHS or token_matches(request, self.token):
            return None
        if request.method == "GET" and not request.url.path.startswith("/api/"):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse(
            {"error": "missing or wrong token: send Authorization: Bearer TOKEN or log in"},
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def confined(path: str, roots: Sequence[str]) -> str | None:
    """The real path of ``path`` if it is a regular file under one of ``roots`` (resolved
    too), else ``None``; links are followed to their end before the check."""
    if outside(path, roots):
        return None
    real = os.path.realpath(path)
    return real if os.path.isfile(real) else None


def outside(path: str, roots: Sequence[str]) -> bool:
    """Does ``path``, links followed, lead out of every one of ``roots``?"""
    real = os.path.realpath(path)
    return not any(_inside(real, os.path.realpath(r)) for r in roots)
