"""Nothing leaks: paths that climb out, links out of the collection, ids that do not exist,
tokens off loopback, foreign hosts, cross-site callers, slow and oversized requests."""

from __future__ import annotations

import http.client
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from awkward import xmodal
from serve_helpers import (
    SECRET,
    Served,
    app_client,
    build_collection,
    serve_process,
    uvicorn_thread,
)
from xmodal.serve import ServeSettings

#: what must never appear in an answer: the secret file's words, /etc/passwd's first field
LEAKS = (SECRET, "root:x:0:0")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return build_collection(tmp_path_factory.mktemp("serve-security"))


@pytest.fixture(scope="module")
def server_url(served: Served) -> Any:
    with serve_process(served.db) as (url, _):
        yield url


def _outside_ids(served: Served) -> list[str]:
    return [i for rel, i in served.ids.items() if rel.startswith("elsewhere/") or "linked" in rel]


def _raw_get(url: str, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written, no client normalising its dots or escapes."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"127.0.0.1:{parts.port}")
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _traversals(served: Served) -> list[str]:
    secret = str(served.outside / "secret.txt")
    climbs = [
        "../../../../etc/passwd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "..%252f..%252fetc%252fpasswd",
        "....//....//etc/passwd",
        "..\\..\\etc\\passwd",
        "%2fetc%2fpasswd",
        secret.replace("/", "%2f"),
        "elsewhere%2fsecret.txt",
        "%00",
    ]
    targets = ["/etc/passwd", "//etc/passwd", f"/{secret}", "/static/../../../../etc/passwd"]
    for climb in climbs:
        targets += [f"/static/{climb}", f"/api/items/{climb}", f"/{climb}"]
        for tail in ("media", "thumbnail", "similar"):
            targets.append(f"/api/items/{climb}/{tail}")
    for item_id in [*_outside_ids(served), "0000000000000000", "deadbeefdeadbeef"]:
        for tail in ("", "/media", "/thumbnail", "/similar"):
            targets.append(f"/api/items/{item_id}{tail}")
    return targets


def test_traversal_suite_leaks_nothing(served: Served, server_url: str) -> None:
    targets = _traversals(served)
    assert len(targets) > 60
    for target in targets:
        status, body = _raw_get(server_url, target)
        assert 400 <= status < 500, (target, status)
        assert not any(leak.encode() in body for leak in LEAKS), target


def test_items_outside_the_roots_are_never_shown(served: Served, server_url: str) -> None:
    assert len(_outside_ids(served)) == 3  # the index does hold them: links were followed
    for q in (SECRET, "root bash", "secret picture", "secret"):
        status, body = _raw_get(server_url, f"/api/search?q={q.replace(' ', '+')}&k=200")
        assert status == 200
        assert not any(leak.encode() in body for leak in LEAKS)
        assert b"elsewhere" not in body and b"linked.txt" not in body
    with app_client(served) as client:
        picture = (served.outside / "secret_picture.png").read_bytes()
        found = client.post("/api/search", files={"file": ("x.png", picture)}, data={"k": 200})
        assert found.status_code == 200 and b"elsewhere" not in found.content
        for item_id in served.ids.values():
            similar = client.get(f"/api/items/{item_id}/similar", params={"k": 200})
            assert b"elsewhere" not in similar.content and b"linked.txt" not in similar.content


def test_index_skips_links_out_unless_asked(served: Served, tmp_path: Any) -> None:
    done = xmodal("index", served.media, "--db", tmp_path / "db", "--model", "bm25")
    assert done.returncode == 0, done.stderr
    assert "linked.txt: symbolic link leads outside the indexed folders" in done.stderr
    search = xmodal("search", "root", "--db", tmp_path / "db")
    assert "root:x" not in search.stdout and SECRET not in search.stdout
    opted = xmodal(
        "index", served.media, "--db", tmp_path / "all", "--model", "bm25", "--follow-links"
    )
    assert opted.returncode == 0 and "leads outside" not in opted.stderr
    assert SECRET in xmodal("search", SECRET, "--db", tmp_path / "all").stdout


def test_a_path_filter_reads_no_file(client_default: Any) -> None:
    answer = client_default.get("/api/search", params={"q": "cat", "path": "/etc/*"})
    assert answer.status_code == 200 and answer.json() == {"results": []}


@pytest.fixture
def client_default(served: Served) -> Any:
    with app_client(served) as client:
        yield client


def test_foreign_host_is_refused_without_a_token(client_default: Any) -> None:
    assert client_default.get("/healthz").status_code == 200
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost.evil:80"):
        assert client_default.get("/api/info", headers={"host": host}).status_code == 421


def test_token_enforcement(served: Served) -> None:
    settings = ServeSettings(token="s3cret-token", thumb_dir=served.db.parent / "thumbs")
    with app_client(served, settings) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/search", params={"q": "cat"}).status_code == 401
        assert client.get("/api/info", headers={"host": "evil.example"}).status_code == 401
        for wrong in ("Bearer nope", "Bearer ", "Basic czNjcmV0LXRva2Vu", "s3cret-token"):
            assert client.get("/api/info", headers={"Authorization": wrong}).status_code == 401
        good = {"Authorization": "Bearer s3cret-token"}
        assert client.get("/api/info", headers=good).status_code == 200
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert client.post("/login", data={"token": "nope"}).status_code == 401
        assert client.get("/api/info").status_code == 401
        login = client.post("/login", data={"token": "s3cret-token"}, follow_redirects=False)
        assert login.status_code == 303
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "s3cret-token" not in cookie
        assert client.get("/api/info").status_code == 200
        assert client.get("/").status_code == 200


def test_off_loopback_needs_a_token() -> None:
    done = xmodal("serve", "--host", "0.0.0.0", "--db", "/nonexistent")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--token" in lines[0]


def test_cors_is_off_by_default_and_exact_when_set(served: Served, client_default: Any) -> None:
    preflight = {"Origin": "http://a.example", "Access-Control-Request-Method": "GET"}
    for answer in (
        client_default.get("/api/info", headers={"Origin": "http://a.example"}),
        client_default.options("/api/search", headers=preflight),
    ):
        assert "access-control-allow-origin" not in answer.headers
    settings = ServeSettings(
        cors_origins=("http://a.example",), thumb_dir=served.db.parent / "thumbs"
    )
    with app_client(served, settings) as client:
        allowed = client.get("/api/info", headers={"Origin": "http://a.example"})
        assert allowed.headers["access-control-allow-origin"] == "http://a.example"
        assert client.options("/api/search", headers=preflight).status_code == 200
        for other in ("http://b.example", "http://a.example.evil", "null"):
            answer = client.get("/api/info", headers={"Origin": other})
            assert "access-control-allow-origin" not in answer.headers


def _read_answer(sock: socket.socket) -> str:
    """One whole HTTP answer (head and a body of its content-length) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return (head + b"\r\n\r\n" + body).decode()


def test_slow_and_oversized_requests(served: Served) -> None:
    settings = ServeSettings(
        request_timeout=0.5, max_upload_bytes=10_000, thumb_dir=served.db.parent / "thumbs"
    )
    with uvicorn_thread(served, settings) as url:
        port = urlsplit(url).port
        head = (
            "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n"
        )
        with socket.create_connection(("127.0.0.1", port or 0), timeout=60) as sock:
            sock.sendall(head.encode())  # and then nothing more: the body never comes
            answer = _read_answer(sock)
        assert answer.startswith("HTTP/1.1 408") and "took longer" in answer
        declared = head.replace("5000", "50000")
        with socket.create_connection(("127.0.0.1", port or 0), timeout=60) as sock:
            sock.sendall(declared.encode())
            assert _read_answer(sock).startswith("HTTP/1.1 413")
        chunked = (
            "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port or 0), timeout=60) as sock:
            sock.sendall(chunked.encode() + (b"2710\r\n" + b"x" * 10_000 + b"\r\n") * 3)
            assert _read_answer(sock).startswith("HTTP/1.1 413")
