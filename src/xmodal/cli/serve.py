"""``xmodal serve``: the HTTP API and the search page over one collection."""

from __future__ import annotations

import argparse
import os
import sys

from xmodal.cli.common import Subparsers, add_command, add_db, fail, open_existing

EXAMPLES = (
    "xmodal serve --db ~/collections/home            # http://127.0.0.1:8765/",
    "XMODAL_TOKEN=s3cret xmodal serve --host 0.0.0.0 --port 8080",
)


def add_parser(sub: Subparsers) -> None:
    sv = add_command(
        sub, "serve", "serve a search page and an HTTP API over a collection", EXAMPLES
    )
    add_db(sv)
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument(
        "--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)"
    )
    sv.add_argument(
        "--token",
        help="require this token on every request (default: $XMODAL_TOKEN); needed off loopback",
    )
    sv.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let pages from this exact origin call the API (repeatable; default: none)",
    )
    sv.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from xmodal.serve.run import serve
    from xmodal.serve.security import is_loopback
    from xmodal.serve.settings import ServeSettings

    token = args.token if args.token is not None else os.environ.get("XMODAL_TOKEN") or None
    if token is not None and not token.strip():
        return fail("--token must not be empty")
    if not 0 <= args.port <= 65535:
        return fail("--port must be 0 to 65535")
    if token is None and not is_loopback(args.host):
        return fail(
            f"--host {args.host} is reachable from other machines: give --token T"
            " (or set XMODAL_TOKEN) to serve there"
        )
    settings = ServeSettings(
        host=args.host, port=args.port, token=token, cors_origins=tuple(args.cors_origin or ())
    )

    def announce(url: str) -> None:
        print(f"serving {col.root} at {url} (Ctrl-C stops)", flush=True)

    with open_existing(args) as col:
        serve(col, settings, announce)
    print("xmodal: stopped", file=sys.stderr)
    return 0
