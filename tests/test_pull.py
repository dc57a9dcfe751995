"""``xmodal models pull`` against a hub on this machine: a local HTTP server answers the routes
huggingface_hub downloads through, with the headers and checksums the real hub sends, and
holds tiny random CLIP models. The pulled weights then index and search with no network."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from helpers import draw_image

pytest.importorskip("torch")
pytest.importorskip("transformers")
safetensors_torch = pytest.importorskip("safetensors.torch")
pytest.importorskip("open_clip")
pytest.importorskip("torchvision")

from test_clip import (  # noqa: E402
    TINY,
    TINY_CFG,
    _clip_tokenizer_files,
    _tiny_state_dict,
    save_tiny_hf_clip,
)
from xmodal.encoders.clip.pull import endpoint_address  # noqa: E402

OPEN_CLIP_REPO = "xmodal-test/tiny-openclip"
TAMPERED_REPO = "xmodal-test/tampered-openclip"
HF_REPO = "xmodal-test/tiny-hfclip"
#: weights are large files: the hub serves them from LFS, named by their sha256
LFS_SUFFIXES = (".safetensors", ".bin")


@dataclass
class Repo:
    commit: str
    files: dict[str, bytes]
    #: bytes served instead of a file's own, under the file's own checksum
    tampered: dict[str, bytes] = field(default_factory=dict)


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class FakeHub(http.server.ThreadingHTTPServer):
    def __init__(self, repos: dict[str, Repo]) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.repos = repos
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class HubHandler(http.server.BaseHTTPRequestHandler):
    """The hub's file routes: ``/{repo}/resolve/{rev}/{file}`` (HEAD and GET), and the API's
    ``/api/models/{repo}/revision/{rev}`` and ``/api/models/{repo}/tree/{rev}``."""

    server: FakeHub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = urlparse(self.path).path
        self.server.requests.append(f"{self.command} {path}")
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(revision|tree)/([^/]+)", path)
        if api:
            self._api(api.group(1), api.group(2))
            return
        got = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        repo = self.server.repos.get(got.group(1)) if got else None
        if got is None or repo is None:
            self._error(404, "RepoNotFound")
            return
        name = got.group(3)
        if name not in repo.files:
            self._error(404, "EntryNotFound", repo.commit)
            return
        data = repo.files[name]
        served = repo.tampered.get(name, data)
        self.send_response(200)
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("Content-Length", str(len(served)))
        if name.endswith(LFS_SUFFIXES):
            sha = hashlib.sha256(data).hexdigest()
            self.send_header("ETag", f'"{sha}"')
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(data)))
        else:
            self.send_header("ETag", f'"{git_blob_sha(data)}"')
        self.end_headers()
        if body:
            self.wfile.write(served)

    def _api(self, repo_id: str, route: str) -> None:
        repo = self.server.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound")
            return
        if route == "revision":
            siblings = [{"rfilename": n} for n in repo.files]
            out: Any = {"id": repo_id, "sha": repo.commit, "siblings": siblings}
        else:
            out = [_tree_entry(n, d) for n, d in repo.files.items()]
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, commit: str | None = None) -> None:
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _tree_entry(name: str, data: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "path": name, "size": len(data)}
    entry["oid"] = git_blob_sha(data)
    if name.endswith(LFS_SUFFIXES):
        lfs = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        entry["lfs"] = lfs
    return entry


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _hf_clip_files(root: Path) -> dict[str, bytes]:
    """A tiny random transformers CLIP model and its processor, saved as on the hub."""
    _clip_tokenizer_files(root)
    out = save_tiny_hf_clip(root, root)
    return _folder_files(out)


#: the tiny architecture and its published tags, registered with open_clip the way its own
#: catalogue lists them (open_clip has no public call that adds a pretrained tag)
BOOT = """
import json, sys
import open_clip
from open_clip import pretrained
open_clip.add_model_config(sys.argv.pop(1))
pretrained._PRETRAINED[{tiny!r}] = json.loads(sys.argv.pop(1))
from xmodal.cli import main
sys.exit(main(sys.argv[1:]))
"""
TAGS = {
    "tinytag": {"hf_hub": f"{OPEN_CLIP_REPO}/", "mean": [0.5] * 3, "std": [0.5] * 3},
    "tampered": {"hf_hub": f"{TAMPERED_REPO}/"},
}


@dataclass
class World:
    hub: FakeHub
    root: Path
    cfg: Path
    env: dict[str, str]

    def cli(self, *args: object) -> subprocess.CompletedProcess[str]:
        boot = ["-c", BOOT.format(tiny=TINY), str(self.cfg), json.dumps(TAGS)]
        return subprocess.run(
            [sys.executable, *boot, *map(str, args)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )

    def ok(self, *args: object) -> str:
        proc = self.cli(*args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("pull")
    cfg = root / f"{TINY}.json"
    cfg.write_text(json.dumps(TINY_CFG))
    import open_clip

    open_clip.add_model_config(cfg)
    weights = root / "open_clip_model.safetensors"
    safetensors_torch.save_file(_tiny_state_dict(seed=3), weights)
    data = weights.read_bytes()
    (root / "hf").mkdir()
    repos = {
        OPEN_CLIP_REPO: Repo("1" * 40, {weights.name: data}),
        # the right size and the right advertised checksum, the wrong bytes
        TAMPERED_REPO: Repo("2" * 40, {weights.name: data}, {weights.name: bytes(len(data))}),
        HF_REPO: Repo("3" * 40, _hf_clip_files(root / "hf")),
    }
    hub = FakeHub(repos)
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    (root / "hf-home").mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "TRANSFORMERS_"))
        and k.lower() not in ("https_proxy", "http_proxy", "all_proxy")
    }
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(root / "hf-home"),
        XMODAL_CACHE=str(root / "xm-cache"),
        XMODAL_DB=str(root / "default-db"),
    )
    try:
        yield World(hub, root, cfg, env)
    finally:
        hub.shutdown()
        thread.join(timeout=10)
        hub.server_close()


def photos(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    draw_image((220, 30, 30), "circle").save(folder / "red.png")
    draw_image((30, 30, 220), "square").save(folder / "blue.png")
    (folder / "note.txt").write_text("a note about the harbour\n")
    return folder


def test_endpoint_port_follows_its_scheme() -> None:
    assert endpoint_address("https://huggingface.co") == ("huggingface.co", 443)
    assert endpoint_address("http://mirror.local") == ("mirror.local", 80)
    assert endpoint_address("http://127.0.0.1:8123/") == ("127.0.0.1", 8123)


def test_missing_weights_name_the_command_that_pulls_them(world: World) -> None:
    """The message of ``index`` says the one command; running it makes the index work, and
    neither the index nor the search reaches for the hub."""
    media, db = photos(world.root / "photos"), world.root / "db-openclip"
    name = f"clip:{TINY}@tinytag"
    refused = world.cli("index", media, "--db", db, "--model", name)
    assert refused.returncode == 2, refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    command = re.search(r"`(xmodal models pull [^`]+)`", line)
    assert command is not None and command.group(1) == f"xmodal models pull {name}", line

    pulled = json.loads(world.ok(*command.group(1).split()[1:], "--json"))
    assert pulled["model"] == name
    path = Path(pulled["path"])
    want = hashlib.sha256((world.root / "open_clip_model.safetensors").read_bytes()).hexdigest()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == want
    assert os.path.basename(os.path.realpath(path)) == want  # filed under its checksum
    assert f"HEAD /{OPEN_CLIP_REPO}/resolve/main/open_clip_model.safetensors" in world.hub.requests

    before = len(world.hub.requests)
    report = json.loads(world.ok("index", media, "--db", db, "--model", name, "--json", "-q"))
    assert report["added"] == 3
    out = json.loads(world.ok("search", "--image", media / "red.png", "--db", db, "--json"))
    assert Path(out["results"][0]["path"]).name == "red.png"
    assert world.hub.requests[before:] == []


def test_a_download_that_does_not_match_its_checksum_is_refused(world: World) -> None:
    name = f"clip:{TINY}@tampered"
    proc = world.cli("models", "pull", name)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "checksum mismatch" in line
    # nothing usable is left behind: the index still says the weights must be pulled
    media = photos(world.root / "photos")
    again = world.cli("index", media, "--db", world.root / "db-tampered", "--model", name)
    assert again.returncode == 2 and f"xmodal models pull {name}" in again.stderr


def test_hf_clip_repo_is_pulled_and_used_offline(world: World) -> None:
    media, db = photos(world.root / "photos"), world.root / "db-hf"
    name = f"hf-clip:{HF_REPO}"
    refused = world.cli("index", media, "--db", db, "--model", name)
    assert refused.returncode == 2 and f"`xmodal models pull {name}`" in refused.stderr
    folder = Path(json.loads(world.ok("models", "pull", name, "--json"))["path"])
    assert {"config.json", "model.safetensors"} <= {p.name for p in folder.iterdir()}
    before = len(world.hub.requests)
    report = json.loads(world.ok("index", media, "--db", db, "--model", name, "--json", "-q"))
    assert report["added"] == 3
    out = json.loads(world.ok("search", "--image", media / "blue.png", "--db", db, "--json"))
    assert Path(out["results"][0]["path"]).name == "blue.png"
    assert world.hub.requests[before:] == []


def test_an_unreachable_endpoint_is_named_with_its_port(world: World) -> None:
    env = {**world.env, "HF_ENDPOINT": "http://127.0.0.1:9"}  # discard port: nothing listens
    proc = subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "models", "pull", f"hf-clip:{HF_REPO}-other"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "127.0.0.1:9 is unreachable" in proc.stderr
