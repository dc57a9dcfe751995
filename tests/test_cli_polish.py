"""What a new user meets on a real folder: help with examples, a default collection, readable
``info`` and ``models list``, snippets cut by display width, no bars in logs, opening hits,
contact sheets, and wrong paths refused as usage errors."""

from __future__ import annotations

import argparse
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from wcwidth import wcswidth

from awkward import shape_image, xmodal, xmodal_json
from xmodal.cli.app import build_parser
from xmodal.cli.display import cut, text_width
from xmodal.contact_sheet import CAPTION_H, PAD, THUMB
from xmodal.paths import default_collection

CHINESE = "小猫在花园里玩耍，阳光明媚，天气很好。" * 6


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two pictures and a Chinese note."""
    root = tmp_path / "media"
    (root / "pics").mkdir(parents=True)
    shape_image("square", (220, 20, 20), (255, 255, 255)).save(root / "pics" / "red.png")
    shape_image("circle", (20, 40, 220), (240, 240, 240)).save(root / "pics" / "blue.png")
    (root / "note.txt").write_text(CHINESE, encoding="utf-8")
    return root


def _index(folder: Path, db: Path, *more: str) -> dict[str, object]:
    out: dict[str, object] = xmodal_json(
        "index", folder, "--db", db, "--model", "classic", "--model", "bm25", *more, "--json"
    )
    return out


@pytest.fixture
def built(folder: Path, tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "db"
    _index(folder, db)
    return folder, db


# -- 1. help ----------------------------------------------------------------------------------


def _parsers(
    parser: argparse.ArgumentParser, name: str = "xmodal"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_has_help_and_every_command_examples() -> None:
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 15
    for name, parser in parsers:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
        assert parser.epilog and "xmodal " in parser.epilog, f"{name} has no examples"
        examples = [line for line in parser.epilog.splitlines() if "xmodal " in line]
        assert 1 <= len(examples) <= 3, name
        assert isinstance(parser.formatter_class, type)
        assert issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter), name


def test_help_shows_the_examples_as_written() -> None:
    done = xmodal("search", "--help")
    assert done.returncode == 0
    assert "examples:\n  xmodal search" in done.stdout
    assert "$XMODAL_DB" in done.stdout and ".local/share/xmodal/default" in done.stdout


# -- 2. the default collection ------------------------------------------------------------------


def test_default_collection_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XMODAL_DB", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_collection() == tmp_path / ".local" / "share" / "xmodal" / "default"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_collection() == tmp_path / "data" / "xmodal" / "default"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert default_collection() == tmp_path / ".local" / "share" / "xmodal" / "default"
    monkeypatch.setenv("XMODAL_DB", str(tmp_path / "mine"))
    assert default_collection() == tmp_path / "mine"


def test_commands_use_xmodal_db(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "from-env"
    monkeypatch.setenv("XMODAL_DB", str(db))
    report = xmodal_json("index", folder, "--model", "classic", "--json")
    assert report["added"] == 3
    assert (db / "xmodal.db").is_file()
    ids = xmodal_json("ids", "--json")
    assert str(folder / "pics" / "red.png") in ids and len(ids) == 3
    hits = xmodal_json("search", "--image", folder / "pics" / "red.png", "--json")["results"]
    assert hits[0]["path"] == str(folder / "pics" / "red.png")
    assert xmodal_json("info", "--json")["items"] == 3


def test_commands_use_the_data_folder(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("XMODAL_DB", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    missing = xmodal("search", "--image", folder / "pics" / "red.png")
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
    assert "--db" in missing.stderr and ".local/share/xmodal/default" in missing.stderr
    done = xmodal("index", folder, "--model", "classic")
    assert done.returncode == 0, done.stderr
    assert (home / ".local" / "share" / "xmodal" / "default" / "xmodal.db").is_file()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    xmodal_json("index", folder / "pics" / "red.png", "--model", "classic", "--json")
    assert (tmp_path / "xdg" / "xmodal" / "default" / "xmodal.db").is_file()
    assert list(xmodal_json("ids", "--json")) == [str(folder / "pics" / "red.png")]


# -- 3. info --------------------------------------------------------------------------------------


def test_info_is_a_readable_summary(built: tuple[Path, Path]) -> None:
    _, db = built
    done = xmodal("info", "--db", db)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert str(db) in text
    assert "2 image" in text and "1 text" in text
    assert "classic" in text and "dim 532" in text and "bm25" in text
    assert "OCR" in text and "off" in text
    assert "size on disk" in text and "KB" in text
    info = xmodal_json("info", "--db", db, "--json")
    assert {"path", "items", "by_modality", "spaces", "problems"} <= set(info)
    assert info["items"] == 3 and info["by_modality"] == {"text": 1, "image": 2}
    assert info["spaces"]["classic"] == {"encoder": "none", "dim": 532, "index": "exact"}
    assert info["ocr"] is False and info["extractors"] == []
    assert info["encoders"] == ["classic", "bm25"]
    assert info["size_bytes"] > 0


def test_info_says_when_ocr_is_on(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "ocr-db"
    xmodal_json("index", folder / "pics", "--db", db, "--model", "ocr", "--json", timeout=300)
    info = xmodal_json("info", "--db", db, "--json")
    assert info["ocr"] is True and info["extractors"] == ["ocr"]
    assert "OCR          on" in xmodal("info", "--db", db).stdout


# -- 4. models list -------------------------------------------------------------------------------


def test_models_list_fits_in_100_columns() -> None:
    done = xmodal("models", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(wcswidth(line) <= 100 for line in lines), max(lines, key=wcswidth)
    header = lines[0]
    starts = [header.index(col) for col in ("available", "modalities", "dim", "size")]
    rows = [line for line in lines[1:] if not line.startswith(" ")]
    names = {r["name"] for r in xmodal_json("models", "list", "--json")["models"]}
    assert {row.split()[0] for row in rows} == names
    for row in rows:
        for start in starts:
            assert row[start - 2 : start] == "  " and row[start] != " ", (row, start)


# -- 5. snippets ------------------------------------------------------------------------------


def test_cut_counts_cjk_as_two_columns() -> None:
    assert cut("short", 10) == "short"
    piece = cut(CHINESE, 21)
    assert piece.endswith("…") and text_width(piece) <= 21
    assert piece == "小猫在花园里玩耍，阳…"
    assert text_width("小猫") == 4 and text_width("ab") == 2


def test_a_chinese_snippet_is_cut_by_display_width(built: tuple[Path, Path]) -> None:
    _, db = built
    done = xmodal("search", "小猫", "--db", db, "--type", "text")
    assert done.returncode == 0, done.stderr
    snippet = done.stdout.splitlines()[1].strip()
    assert snippet.startswith("小猫在花园") and snippet.endswith("…")
    assert wcswidth(snippet) <= 80 and wcswidth(snippet) >= 78


# -- 6. progress bars -----------------------------------------------------------------------------


def test_no_progress_bar_in_logs(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XMODAL_PROGRESS", raising=False)
    done = xmodal("index", folder, "--db", tmp_path / "db", "--model", "classic")
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "it/s" not in done.stderr and "file/s" not in done.stderr
    assert "%|" not in done.stderr
    monkeypatch.setenv("XMODAL_PROGRESS", "1")
    forced = xmodal("index", folder, "--db", tmp_path / "db2", "--model", "classic")
    assert forced.returncode == 0 and "indexing: 100%|" in forced.stderr


# -- 7. opening hits, contact sheets --------------------------------------------------------------


def _recording_opener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "opened.txt"
    script = tmp_path / "opener.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{log}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("XMODAL_OPENER", str(script))
    return log


def test_open_and_reveal_a_hit(
    built: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, db = built
    log = _recording_opener(tmp_path, monkeypatch)
    query = folder / "pics" / "blue.png"
    hits = xmodal_json("search", "--image", query, "--db", db, "--open", "1", "--json")
    assert hits["results"][0]["path"] == str(query)
    assert log.read_text().splitlines() == [str(query)]
    log.unlink()
    done = xmodal("search", "--image", query, "--db", db, "--reveal", "2")
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [str(folder / "pics")]
    log.unlink()
    too_far = xmodal("search", "--image", query, "--db", db, "--open", "9")
    assert too_far.returncode == 2 and len(too_far.stderr.splitlines()) == 1
    assert "--open 9" in too_far.stderr and not log.exists()


def test_contact_sheet_of_the_hits(built: tuple[Path, Path], tmp_path: Path) -> None:
    folder, db = built
    sheet = tmp_path / "out" / "sheet.png"
    sheet.parent.mkdir()
    done = xmodal("search", "小猫", "--db", db, "-k", "3", "--contact-sheet", sheet)
    assert done.returncode == 0, done.stderr
    assert f"contact sheet: {sheet}" in done.stdout
    hits = xmodal_json("search", "小猫", "--db", db, "-k", "3", "--json")["results"]
    with Image.open(sheet) as im:
        assert im.format == "PNG"
        n = len(hits)
        assert im.size == (PAD + n * (THUMB + PAD), THUMB + 2 * PAD + CAPTION_H)
    many = tmp_path / "many.png"
    xmodal_json("search", "--image", folder / "pics" / "red.png", "--db", db, "-k", "2",
                "--contact-sheet", many, "--json")  # fmt: skip
    with Image.open(many) as im:
        assert im.size == (PAD + 2 * (THUMB + PAD), THUMB + 2 * PAD + CAPTION_H)
        # the red square's thumbnail comes first, its caption under it
        assert im.getpixel((PAD + THUMB // 2, PAD + THUMB // 2))[:3] == (220, 20, 20)


# -- 8. wrong paths ---------------------------------------------------------------------------


def test_indexing_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "never"
    done = xmodal("index", tmp_path / "does" / "not" / "exist", "--db", db)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "no such file" in done.stderr
    assert not db.exists()


def test_a_failed_first_index_leaves_no_collection(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "new" / "db"
    bad = tmp_path / "missing.safetensors"
    done = xmodal("index", folder, "--db", db, "--model", f"clip:ViT-B-32@{bad}", timeout=300)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert not (tmp_path / "new").exists()


def test_removing_what_is_not_there(built: tuple[Path, Path]) -> None:
    folder, db = built
    elsewhere = str(folder.parent / "elsewhere.png")
    done = xmodal("remove", elsewhere, "--db", db)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and elsewhere in done.stderr
    assert len(xmodal_json("ids", "--db", db, "--json")) == 3
    red = str(folder / "pics" / "red.png")
    some = xmodal("remove", red, elsewhere, "--db", db)
    assert some.returncode == 0 and some.stdout == "removed 1\n"
    assert "warning" in some.stderr and elsewhere in some.stderr and red not in some.stderr
    assert red not in xmodal_json("ids", "--db", db, "--json")


def test_an_exclude_that_matches_nothing_is_reported(folder: Path, tmp_path: Path) -> None:
    done = xmodal(
        "index", folder, "--db", tmp_path / "db", "--model", "classic",
        "--exclude", "*.jpeg", "--exclude", "blue.*",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "'*.jpeg'" in warnings[0]
    assert "added 2," in done.stdout  # the red square and the note


def test_a_search_path_glob_that_matches_nothing_is_reported(built: tuple[Path, Path]) -> None:
    folder, db = built
    done = xmodal("search", "--image", folder / "pics" / "red.png", "--db", db, "--path", "/x/*")
    assert done.returncode == 0 and done.stdout == "no results\n"
    assert "warning" in done.stderr and "'/x/*'" in done.stderr
