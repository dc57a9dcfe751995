"""Duplicates, diverse more-like-this and the NSFW rule on generated pictures (``classic``
space), through Python and through the real CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from awkward import xmodal_json
from xmodal.apply import find_duplicates, flag_collection, parse_policy, similar
from xmodal.collection import Collection


def _picture(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    im = Image.fromarray(pixels).resize((320, 240), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(4):
        x, y = int(rng.integers(0, 260)), int(rng.integers(0, 180))
        draw.ellipse((x, y, x + 50, y + 50), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return im


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pictures")
    media = base / "media"
    media.mkdir()
    for b in range(4):
        im = _picture(b)
        im.save(media / f"b{b}_orig.png")
        shutil.copyfile(media / f"b{b}_orig.png", media / f"b{b}_copy.png")
        im.resize((160, 120)).save(media / f"b{b}_half.png")
        im.save(media / f"b{b}_q30.jpg", quality=30)
        im.crop((12, 9, 308, 231)).save(media / f"b{b}_crop.png")
    for d in range(4):
        _picture(100 + d).save(media / f"lone{d}.png")
    xmodal_json("index", media, "--db", base / "db", "--model", "classic", "--json")
    return base


def _groups(groups: list[list[str]]) -> set[frozenset[str]]:
    return {frozenset(Path(p).name for p in g) for g in groups}


def test_dupes_cli_contract_and_sheets(pictures: Path) -> None:
    sheets = pictures / "sheets"
    out = xmodal_json(
        "dupes", "--db", pictures / "db", "--no-semantic", "--contact-sheet", sheets, "--json"
    )
    expected = {
        frozenset(f"b{b}_{k}" for k in ("orig.png", "copy.png", "half.png", "q30.jpg", "crop.png"))
        for b in range(4)
    }
    assert _groups(out["groups"]) == expected
    assert all(len(g) >= 2 for g in out["groups"])
    drawn = sorted(sheets.glob("group-*.png"))
    assert len(drawn) == 4 and Image.open(drawn[0]).size[0] > 5 * 100


def test_dupes_kinds(pictures: Path) -> None:
    with Collection.open(pictures / "db", create=False) as col:
        exact = find_duplicates(col.store, threshold=None, max_distance=None)
        assert _groups([g.paths for g in exact.groups]) == {
            frozenset({f"b{b}_orig.png", f"b{b}_copy.png"}) for b in range(4)
        }
        assert all(g.kinds == ["exact"] for g in exact.groups)
        semantic = find_duplicates(col.store, threshold=0.9, max_distance=None)
        kinds = {k for g in semantic.groups for k in g.kinds}
        assert "semantic:classic" in kinds
        assert not any("lone" in p for g in semantic.groups for p in g.paths)


def test_diverse_like_spreads_over_groups(pictures: Path) -> None:
    with Collection.open(pictures / "db", create=False) as col:
        ids = {Path(p).name: i for p, i in col.ids().items()}
        plain = similar(col.store, ids["b0_orig.png"], k=4)
        assert all(Path(h.path).name.startswith("b0_") for h in plain)
        varied = similar(col.store, ids["b0_orig.png"], k=4, diverse=0.9)
        assert Path(varied[0].path).name.startswith("b0_")
        assert sum(not Path(h.path).name.startswith("b0_") for h in varied) >= 2
    out = xmodal_json(
        "search",
        "--like",
        ids["b0_orig.png"],
        "--diverse",
        "0.9",
        "-k",
        "4",
        "--db",
        pictures / "db",
        "--json",
    )
    assert [h["id"] for h in out["results"]] == [h.id for h in varied]


def test_nsfw_rule_scores_pictures(pictures: Path) -> None:
    with Collection.open(pictures / "db", create=False) as col:
        rules = parse_policy("nsfw: @nsfw >= 0.8\nanything: @nsfw >= 0\n")
        report = flag_collection(col.store, rules, save=False)
    assert len(report.flagged) == len(col_paths(pictures))
    for _, flags in report.flagged.values():
        names = [f.rule for f in flags]
        assert "nsfw" not in names and "anything" in names
        assert all(0.0 <= f.score <= 1.0 for f in flags)


def col_paths(pictures: Path) -> list[Path]:
    return sorted((pictures / "media").iterdir())
