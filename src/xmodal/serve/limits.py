"""Limits on every request: a body larger than allowed ends with 413, a request whose
response has not started in time ends with 408, both as JSON."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyTooLarge(Exception):
    pass


async def _send_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    def __init__(self, app: ASGIApp, max_body: int, timeout: float) -> None:
        self.app = app
        self.max_body = max_body
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body larger than {self.max_body} bytes"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _send_error(send, 413, too_large)
            return
        state: dict[str, Any] = {"started": False, "received": 0, "too_large": False}
        timer = anyio.CancelScope(deadline=anyio.current_time() + self.timeout)

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_body:
                    state["too_large"] = True
                    raise _BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            # whatever the app makes of a body cut short, the client is told it was too large
            if state["too_large"]:
                if not state["started"]:
                    state["started"] = True
                    await _send_error(send, 413, too_large)
                return
            if message["type"] == "http.response.start":
                state["started"] = True
                timer.deadline = math.inf  # a long download of a video is not a slow request
            await send(message)

        with contextlib.suppress(_BodyTooLarge), timer:
            await self.app(scope, counted_receive, watched_send)
        if state["started"]:
            return
        if state["too_large"]:
            await _send_error(send, 413, too_large)
        elif timer.cancelled_caught:
            await _send_error(send, 408, f"request took longer than {self.timeout:g} s")
