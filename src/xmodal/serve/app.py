"""``create_app``: the FastAPI application around one open ``Collection``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from xmodal.collection import Collection
from xmodal.errors import XmodalError
from xmodal.serve import routes_items, routes_search
from xmodal.serve.limits import LimitsMiddleware
from xmodal.serve.schemas import Health
from xmodal.serve.security import SESSION_COOKIE, AccessMiddleware, session_value
from xmodal.serve.service import NotFound, Service
from xmodal.serve.settings import ServeSettings
from xmodal.serve.uploads import UnsupportedUpload, UploadTooLarge

log = logging.getLogger("xmodal.serve")
STATIC = resources.files("xmodal.serve") / "static"
#: the page loads only what the server itself sends; pictures may also be local previews
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self';"
        " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
LOGIN_FORM = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xmodal: log in</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="login"><form method="post" action="/login"><h1>xmodal</h1>
<label>Token <input type="password" name="token" autofocus required></label>
<button type="submit">Log in</button>{message}</form></body></html>"""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "body", "path"))
        parts.append(f"{where or 'request'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _add_error_handlers(app: FastAPI) -> None:
    async def usage(_: Request, exc: Exception) -> JSONResponse:
        status = 400
        if isinstance(exc, UploadTooLarge):
            status = 413
        elif isinstance(exc, UnsupportedUpload):
            status = 415
        return _error(status, " ".join(str(exc).split()))

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return _error(404, "no item with this id")

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _error(400, _validation_message(exc))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return _error(500, "internal error")

    app.add_exception_handler(XmodalError, usage)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def _add_pages(app: FastAPI, settings: ServeSettings) -> None:
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), headers=PAGE_HEADERS)

    @app.get("/login", include_in_schema=False, response_model=None)
    def login_form() -> HTMLResponse | RedirectResponse:
        if settings.token is None:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(LOGIN_FORM.format(message=""), headers=PAGE_HEADERS)

    @app.post("/login", include_in_schema=False, response_model=None)
    def login(token: Annotated[str, Form(max_length=1000)]) -> HTMLResponse | RedirectResponse:
        from xmodal.serve.security import token_equal

        if settings.token is None:
            return RedirectResponse("/", status_code=303)
        if not token_equal(token, settings.token):
            wrong = '<p class="error">That token is not the one the server was started with.</p>'
            return HTMLResponse(LOGIN_FORM.format(message=wrong), 401, headers=PAGE_HEADERS)
        answer = RedirectResponse("/", status_code=303)
        answer.set_cookie(
            SESSION_COOKIE, session_value(settings.token), httponly=True, samesite="strict"
        )
        return answer

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")


def create_app(collection: Collection, settings: ServeSettings | None = None) -> FastAPI:
    """The API and page over ``collection``, which stays open (and its encoders loaded) for
    the life of the app; the caller closes it."""
    settings = settings or ServeSettings()
    service = Service(collection, settings.max_depth)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.warm)
        yield

    from xmodal import __version__

    # the API docs pages load their scripts from this server, not from a CDN: servers here
    # often have no internet, and neither do the browsers that reach them
    app = FastAPIOffline(
        title="xmodal",
        version=__version__,
        description="Search a collection of pictures and text by words or by a picture.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    _add_error_handlers(app)
    app.include_router(routes_search.router)
    app.include_router(routes_items.router)

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        """What the collection holds: items by modality, spaces, encoders."""
        return service.info()

    @app.get("/healthz", response_model=Health)
    def healthz() -> Health:
        return Health(status="ok")

    _add_pages(app, settings)
    # the outermost runs first: limits, then CORS (preflights carry no token), then access
    app.add_middleware(AccessMiddleware, token=settings.token)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        LimitsMiddleware, max_body=settings.max_upload_bytes, timeout=settings.request_timeout
    )
    return app
