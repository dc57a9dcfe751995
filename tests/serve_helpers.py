"""A small collection to serve, with files outside it that a followed link reaches, and
ways to run the server: in-process, in a thread with uvicorn, or as ``xmodal serve``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from awkward import cli_env, encoded
from helpers import draw_image
from xmodal.collection import Collection
from xmodal.ingest.pipeline import IndexOptions
from xmodal.serve import ServeSettings, create_app

#: words only the files outside the collection hold; no answer may ever contain them
SECRET = "TOPSECRET-7f3a"
MODELS = ("classic", "bm25")


@dataclass(frozen=True)
class Served:
    db: Path
    media: Path
    outside: Path
    ids: dict[str, str]  # path relative to ``media`` -> id

    def id(self, rel: str) -> str:
        return self.ids[rel]


def build_collection(root: Path) -> Served:
    """Pictures and notes under ``media``; ``outside`` holds a secret note and picture that
    links in ``media`` reach, indexed with links followed so the index holds them."""
    media, outside, db = root / "media", root / "outside", root / "db"
    (media / "pics").mkdir(parents=True)
    (media / "notes").mkdir()
    outside.mkdir()
    draw_image((220, 20, 20), "circle").save(media / "pics" / "red_bicycle.png")
    draw_image((20, 40, 220), "square").save(media / "pics" / "blue_square.jpg")
    draw_image((20, 160, 40), "triangle").save(media / "pics" / "green_forest.png")
    (media / "pics" / "green_forest.txt").write_text("tall pine trees in the woods")
    (media / "notes" / "cats.md").write_text(
        "# Cats\n\nA cat sleeps on the warm sofa. 猫は眠っています。 The cat dreams of fish."
    )
    (media / "notes" / "recipe.txt").write_text("Bake the bread for forty minutes at 200 degrees.")
    (outside / "secret.txt").write_text(f"{SECRET} root:x:0:0:root:/root:/bin/bash\n")
    (outside / "secret_picture.png").write_bytes(
        encoded(draw_image((250, 250, 0), "circle"), "PNG")
    )
    os.symlink(outside / "secret.txt", media / "notes" / "linked.txt")
    os.symlink(outside, media / "elsewhere")
    with Collection.open(db) as col:
        col.index([media], models=list(MODELS), options=IndexOptions(follow_links=True))
        ids = {os.path.relpath(p, media): i for p, i in col.ids().items()}
    return Served(db, media, outside, ids)


@contextmanager
def app_client(
    served: Served, settings: ServeSettings | None = None, **client: object
) -> Iterator[object]:
    from fastapi.testclient import TestClient

    settings = settings or ServeSettings(thumb_dir=served.db.parent / "thumbs")
    with Collection.open(served.db, create=False) as col:
        app = create_app(col, settings)
        with TestClient(app, base_url="http://127.0.0.1", **client) as c:
            yield c


@contextmanager
def uvicorn_thread(served: Served, settings: ServeSettings) -> Iterator[str]:
    """The app under a real uvicorn on a free loopback port, in this process; yields its URL."""
    with Collection.open(served.db, create=False) as col:
        config = uvicorn.Config(
            create_app(col, settings), host="127.0.0.1", port=0, log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(30)


@contextmanager
def serve_process(db: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``xmodal serve --db DB --port 0 ARGS`` as its own process; yields its URL from the one
    line it prints once it listens."""
    env = cli_env()
    env["XMODAL_CACHE"] = str(db.parent / "cache")
    proc = subprocess.Popen(
        [sys.executable, "-m", "xmodal.cli", "serve", "--db", str(db), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert " at http://" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split(" at ", 1)[1].split()[0].rstrip("/")
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
