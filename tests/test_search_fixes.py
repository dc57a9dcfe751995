"""Search as a new user meets it: query images by their pixels, one score scale, mistakes
refused, read-only collections, and a warm session for repeated queries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from awkward import XMODAL, cli_env, shape_image, xmodal, xmodal_json
from xmodal.query.fusion import RRF_K, fuse_scaled

DOCS = {
    "club.txt": "Chelsea football club signs a new striker. Chelsea fans cheer.",
    "flowers.txt": "The Chelsea flower show opens in May; chelsea gardens bloom.",
    "walk.txt": "A walk along the embankment in Chelsea, London.",
    "bread.txt": "Bake the bread for forty minutes at 200 degrees.",
}


@dataclass(frozen=True)
class Folder:
    root: Path
    db: Path
    query: Path  # a picture outside the collection; an exact copy lies inside it


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    base = tmp_path_factory.mktemp("search-fixes")
    root = base / "media"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text)
    shapes = [("circle", (20, 60, 220)), ("triangle", (20, 160, 40)), ("stripes", (200, 200, 0))]
    for n, (kind, colour) in enumerate(shapes):
        shape_image(kind, colour, (240, 240, 240)).save(root / f"shape_{n}.png")
    query = base / "queries" / "chelsea.png"
    query.parent.mkdir()
    shape_image("square", (220, 20, 20), (30, 30, 30)).save(query)
    shutil.copyfile(query, root / "IMG_0042.png")
    db = base / "db"
    xmodal_json("index", root, "--db", db, "--model", "classic", "--model", "bm25", "--json")
    return Folder(root, db, query)


def _search(f: Folder, *args: str | os.PathLike[str]) -> list[dict]:
    out = xmodal_json("search", "--db", f.db, *args, "--json")
    return list(out["results"])


def _names(results: list[dict]) -> list[str]:
    return [Path(r["path"]).name for r in results]


# -- a query image is its pixels, not its file name ----------------------------------------


def test_query_image_name_is_not_a_query_word(folder: Folder) -> None:
    results = _search(folder, "--image", folder.query)
    assert _names(results)[0] == "IMG_0042.png"
    assert results[0]["spaces"] == {"classic": pytest.approx(1.0, abs=1e-5)}
    assert not any(r["modality"] == "text" for r in results)


def test_use_name_lets_the_name_count(folder: Folder) -> None:
    results = _search(folder, "--image", folder.query, "--use-name", "-k", "20")
    named = {n for r, n in zip(results, _names(results), strict=True) if "bm25" in r["spaces"]}
    assert named == {"club.txt", "flowers.txt", "walk.txt"}


# -- one score scale per fusion mode, and a floor ------------------------------------------


def test_fused_scores_are_normalised() -> None:
    rankings = {"a": [("x", 0.9), ("y", 0.8)], "b": [("x", 3.0)]}
    rrf = {f.key: f.score for f in fuse_scaled(rankings)}
    assert rrf["x"] == pytest.approx(1.0)
    assert rrf["y"] == pytest.approx((1 / (RRF_K + 2)) / (2 / (RRF_K + 1)))
    weighted = {f.key: f.score for f in fuse_scaled(rankings, "weighted", {"a": 1.0, "b": 3.0})}
    assert weighted["y"] == pytest.approx(0.8 / 4)
    only = fuse_scaled({"a": [("x", 0.7)]}, "rrf", {"a": 2.0})
    assert [(f.key, f.score) for f in only] == [("x", pytest.approx(0.7))]


def test_min_score_drops_filler(folder: Folder) -> None:
    everything = _search(folder, "--image", folder.query, "--model", "classic")
    assert len(everything) == 4
    close = _search(folder, "--image", folder.query, "--model", "classic", "--min-score", "0.99")
    assert _names(close) == ["IMG_0042.png"]
    fused = _search(folder, "chelsea + img:" + str(folder.query), "--use-name")
    assert all(0.0 <= r["score"] <= 1.0 + 1e-9 for r in fused)
    assert _names(_search(folder, "bread", "--min-score", "1000")) == []


def test_help_documents_the_score_scale() -> None:
    done = xmodal("search", "--help")
    assert done.returncode == 0
    assert "--min-score" in done.stdout and "1.0 means ranked first in" in done.stdout


# -- mistakes in a query are refused in one line ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("cat", "--weight", "foo=2"), "foo"),
        (('cat"',), "unbalanced"),
        (('2x*"cat"',), "bad weight"),
        (("cat", "--type", "smell"), "smell"),
    ],
)
def test_query_mistakes_exit_2(folder: Folder, args: tuple[str, ...], needle: str) -> None:
    done = xmodal("search", "--db", folder.db, *args, "--json")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and needle in done.stderr


def test_a_type_the_collection_lacks_warns(folder: Folder) -> None:
    done = xmodal("search", "--db", folder.db, "chelsea", "--type", "video", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"results": []}'
    [line] = done.stderr.strip().splitlines()
    assert "warning" in line and "video" in line


# -- a read-only collection searches and is left as it was --------------------------------


def _state(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


def _chmod_tree(root: Path, files: int, folders: int) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(folders if p.is_dir() else files)


@pytest.fixture
def readonly_db(folder: Folder, tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "ro-db"
    shutil.copytree(folder.db, db)
    _chmod_tree(db, 0o444, 0o555)
    try:
        yield db
    finally:
        _chmod_tree(db, 0o644, 0o755)


def test_search_writes_nothing_into_a_read_only_collection(
    folder: Folder, readonly_db: Path
) -> None:
    before = _state(readonly_db)
    results = xmodal_json("search", "--db", readonly_db, "--image", folder.query, "--json")
    assert _names(results["results"])[0] == "IMG_0042.png"
    text = xmodal_json("search", "--db", readonly_db, "chelsea", "--json")
    assert "club.txt" in _names(text["results"])
    assert _state(readonly_db) == before


def test_search_writes_nothing_into_a_writable_collection(folder: Folder) -> None:
    before = _state(folder.db)
    _search(folder, "--image", folder.query)
    assert _state(folder.db) == before


# -- loading only what a query needs, and a warm session ---------------------------------------

_LOADED = """
import sys
from xmodal import Collection
from xmodal.encoders import registry
col = Collection.open(sys.argv[1], create=False)
col.search(sys.argv[2] if sys.argv[2] else None, image=sys.argv[3] if sys.argv[3] else None)
print(" ".join(sorted(registry._CACHE)))
"""


def _loaded(db: Path, query: str, image: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, str(db), query, image],
        capture_output=True, text=True, env=cli_env(), timeout=120, check=True,
    )
    return set(done.stdout.split())


def test_a_query_loads_only_the_spaces_it_needs(folder: Folder) -> None:
    assert _loaded(folder.db, "chelsea", "") == {"bm25"}
    assert _loaded(folder.db, "", str(folder.query)) == {"classic"}


def _session(folder: Folder, lines: list[str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*XMODAL, "search", "--db", str(folder.db), "--interactive", *flags],
        input="".join(line + "\n" for line in lines),
        capture_output=True, text=True, env=cli_env(), timeout=180,
    )


def test_interactive_answers_each_line_like_a_separate_search(folder: Folder) -> None:
    queries = ["chelsea flower", f'img:"{folder.query}"', f'bread + 0.5*img:"{folder.query}"']
    done = _session(folder, queries, "-k", "3", "--json")
    assert done.returncode == 0, done.stderr
    separate = [
        xmodal_json("search", "--db", folder.db, q, "-k", "3", "--json") for q in queries
    ]
    assert [json.loads(line) for line in done.stdout.splitlines()] == separate


def test_interactive_text_output_and_a_bad_line(folder: Folder) -> None:
    done = _session(folder, ["chelsea", 'cat"', "bread"])
    assert done.returncode == 2
    answers = done.stdout.split("\n\n")
    assert len(answers) == 2 and "bread.txt" in answers[1]
    assert "unbalanced" in done.stderr
