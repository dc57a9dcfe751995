"""Words in two languages and drawings from sprite sheets: the Chinese names prepared OpenMoji
folders carry, the text views training draws from them, the loss that keeps a thing's words
together, and the Noto and Fluent drawing sets. Nothing here downloads: emojibase-data is the
miniature the test suite's fixture provides, and the drawing sets are written on the spot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers import fake_emoji_names, fake_openmoji
from xmodal.datasets import emoji_names, emoji_styles, svg_sets
from xmodal.datasets import openmoji as om
from xmodal.errors import UsageError, XmodalError
from xmodal.eval.benchmarks import openmoji as bom
from xmodal.learn.data import load_openmoji, prepare_openmoji_splits, text_features
from xmodal.learn.train import TrainConfig, train


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_names_match_openmoji_by_code_points(tmp_path: Path) -> None:
    table = emoji_names.load_names(fake_emoji_names(tmp_path), "zh")
    found = emoji_names.names_for(["1F600", "1F603", "1F605-1F3FB", "E000", "bad!"], table)
    assert found["1F600"] == emoji_names.Names("圆0号", ("圆0号", "形状"))
    # the data writes 1F603-FE0F; OpenMoji's spelling without it is the same emoji
    assert found["1F603"].annotation == "方块3号"
    assert found["1F605-1F3FB"].annotation == "方块5号 1"  # a skin tone's own entry
    assert "E000" not in found and "bad!" not in found


def test_languages_are_checked() -> None:
    assert emoji_names.parse_languages("en, zh,en") == ("en", "zh")
    assert emoji_names.parse_languages(["en"]) == ("en",)
    for bad in ("zh", "en,fr", ""):
        with pytest.raises(XmodalError, match="languages"):
            emoji_names.parse_languages(bad)


def test_unreadable_names_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(XmodalError, match="fetch"):
        emoji_names.load_names(tmp_path, "zh")
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "data.json").write_text("{not json")
    with pytest.raises(XmodalError, match="cannot read"):
        emoji_names.load_names(tmp_path, "zh")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("om-zh")
    extracted = fake_openmoji(root / "extracted")
    return prepare_openmoji_splits(root / "om", size=24, progress=False, extracted=extracted)


def _items(folder: Path) -> list[dict[str, Any]]:
    return list(json.loads((folder / "items.json").read_text(encoding="utf-8")))


def test_prepared_items_carry_chinese_names_but_the_queries_stay_english(
    prepared: dict[str, Path],
) -> None:
    items = [it for folder in prepared.values() for it in _items(folder)]
    assert len(items) == 12 and all("zh" in it["names"] for it in items)
    for it in items:
        n = int(it["hexcode"][-2:], 16)
        assert it["names"]["zh"]["annotation"] == f"{('圆', '方块')[n % 2]}{n}号"
        assert it["names"]["zh"]["tags"][-1] == "形状"
    folder = prepared["train"]
    queries = (folder / "queries" / "t2i.tsv").read_text(encoding="utf-8")
    assert "number" in queries and "号" not in queries
    assert "Unicode" in (folder / "ATTRIBUTION.txt").read_text(encoding="utf-8")
    manifest = json.loads((folder / "benchmark.json").read_text(encoding="utf-8"))
    assert manifest["params"]["languages"] == "en,zh"


def test_english_only_preparation_has_no_other_names(tmp_path: Path) -> None:
    extracted = fake_openmoji(tmp_path / "extracted")
    layout = bom.prepare(
        tmp_path / "en", split="train", size=24, languages="en", extracted=extracted
    )
    assert all("names" not in it for it in _items(layout.root))
    assert "Unicode" not in (layout.root / "ATTRIBUTION.txt").read_text(encoding="utf-8")
    with pytest.raises(XmodalError, match="languages"):
        bom.prepare(tmp_path / "x", split="train", languages="fr", extracted=extracted)


def test_mixed_texts_include_each_language(prepared: dict[str, Path], tmp_path: Path) -> None:
    data = load_openmoji(prepared["train"], "mixed")
    views = data.text_views()
    # caption, tags, document, then the Chinese name and the Chinese keywords
    assert len(views) == 5
    for n, caption in enumerate(data.texts):
        number = caption.split()[-1]
        assert views[3][n].endswith(f"{number}号") and "形状" in views[4][n]
    assert load_openmoji(prepared["train"], "annotation").views == ()
    # an item without a Chinese name falls back to its caption in the Chinese views
    folder = tmp_path / "partial"
    folder.mkdir()
    items = _items(prepared["train"])
    del items[0]["names"]
    for it in items:
        it["image"] = str(prepared["train"] / it["image"])
        it["text"] = str(prepared["train"] / it["text"])
    (folder / "items.json").write_text(json.dumps(items, ensure_ascii=False))
    partial = load_openmoji(folder, "mixed")
    first = partial.ids.index(items[0]["hexcode"])
    assert partial.text_views()[3][first] == partial.texts[first]


class _CountingEncoder:
    """Stands in for a text encoder, counting the texts it is asked to embed."""

    batch_size = 4

    def __init__(self) -> None:
        from xmodal.records import EncoderSpec, Modality

        self.spec = EncoderSpec("counting", "none", 3, frozenset({Modality.TEXT}))
        self.seen: list[str] = []

    def encode_texts(self, texts: list[str], role: str = "query") -> np.ndarray:
        self.seen += texts
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_each_distinct_text_is_embedded_once(prepared: dict[str, Path]) -> None:
    import dataclasses

    data = load_openmoji(prepared["train"])
    doubled = dataclasses.replace(data.with_images(range(len(data)), data.images, "again:"))
    enc = _CountingEncoder()
    x = text_features(doubled, enc)  # type: ignore[arg-type]
    assert len(x) == 2 * len(data) and sorted(enc.seen) == sorted(set(data.texts))
    np.testing.assert_array_equal(x[: len(data)], x[len(data) :])
    assert x[0, 0] == len(doubled.texts[0])


def _align_config(folder: Path, out: Path, weight: float) -> TrainConfig:
    return TrainConfig.from_json(
        {
            "train_data": str(folder),
            "val_data": str(folder),
            "out": str(out),
            "text_field": "mixed",
            "text_align": weight,
            "dim": 8,
            "hidden": 16,
            "batch_size": 4,
            "epochs": 1,
            "progress": False,
            "cache_dir": str(out.parent / "cache"),
        }
    )


def test_text_alignment_adds_a_loss_between_a_pairs_words(
    prepared: dict[str, Path], tmp_path: Path
) -> None:
    folder = prepared["train"]
    plain = train(_align_config(folder, tmp_path / "plain", 0.0))
    aligned = train(_align_config(folder, tmp_path / "aligned", 1.0))
    # the same first weights and batches, plus a second contrastive term of about log(4)
    assert aligned.history[1]["loss"] > plain.history[1]["loss"] + 0.5
    saved = json.loads((tmp_path / "aligned" / "config.json").read_text(encoding="utf-8"))
    assert saved["training"]["config"]["text_align"] == 1.0
    with pytest.raises(UsageError, match="text_align"):
        _align_config(folder, tmp_path / "bad", -1.0).validate()


_CIRCLE = '<circle cx="64" cy="64" r="40" fill="{}"/>'


def _noto_sheet(path: Path) -> Path:
    """A sprite sheet of three drawings, its attributes in both orders the real one uses."""
    path.mkdir(parents=True)
    sheet = (
        '<svg viewBox="0 0 2000 2000" xmlns="http://www.w3.org/2000/svg">'
        '<svg viewBox="0 0 128 128" id="1F600" xmlns="http://www.w3.org/2000/svg">'
        + _CIRCLE.format("#d01010")
        + '</svg><svg style="x" viewBox="0 0 128 128" id="1F603-FE0F">'
        + _CIRCLE.format("#1030d0")
        + '</svg><svg viewBox="0 0 128 128" id="not-hex!">'
        + _CIRCLE.format("#000")
        + "</svg></svg>"
    )
    (path / "sprites").mkdir()
    (path / "sprites" / "all.svg").write_text(sheet)
    return path


def test_noto_sheet_is_split_once_into_drawings_openmoji_can_name(tmp_path: Path) -> None:
    extracted = _noto_sheet(tmp_path / "noto" / "extracted")
    svg_dir = svg_sets.split_svgs(svg_sets.NOTO, extracted)
    assert sorted(p.name for p in svg_dir.glob("*.svg")) == ["1f600.svg", "1f603.svg"]
    stamp = (svg_dir / "1f600.svg").stat().st_mtime_ns
    assert svg_sets.split_svgs(svg_sets.NOTO, extracted) == svg_dir
    assert (svg_dir / "1f600.svg").stat().st_mtime_ns == stamp
    emojis = om.load_emojis(fake_openmoji(tmp_path / "om"))
    drawings = emoji_styles.render_style(
        "noto", emojis, tmp_path / "out", 32, style_extracted=svg_dir
    )
    assert [d.emoji.hexcode for d in drawings] == ["1F600", "1F603"]
    from PIL import Image

    with Image.open(drawings[1].path) as im:
        r, _, b, a = im.convert("RGBA").getpixel((16, 16))
    assert b > 150 and r < 100 and a == 255
    assert "Apache" in (tmp_path / "out" / "ATTRIBUTION.txt").read_text()


def test_iconify_table_yields_its_drawings_and_skips_aliases(tmp_path: Path) -> None:
    extracted = tmp_path / "fluent" / "extracted"
    extracted.mkdir(parents=True)
    icons = {
        "width": 32,
        "height": 32,
        "icons": {"grin": {"body": '<circle cx="16" cy="16" r="9"/>'}},
        "aliases": {"flipped": {"parent": "grin", "hFlip": True}},
    }
    (extracted / "icons.json").write_text(json.dumps(icons))
    (extracted / "chars.json").write_text(json.dumps({"1f600": "grin", "1f603": "flipped"}))
    svg_dir = svg_sets.split_svgs(svg_sets.FLUENT_FLAT, extracted)
    assert [p.name for p in svg_dir.glob("*.svg")] == ["1f600.svg"]
    assert 'viewBox="0 0 32 32"' in (svg_dir / "1f600.svg").read_text()
    (extracted / "icons.json").write_text("[]")
    (svg_dir / ".split-from").unlink()
    with pytest.raises(XmodalError, match="Iconify"):
        svg_sets.split_svgs(svg_sets.FLUENT_FLAT, extracted)


def test_emoji_styles_benchmark_draws_the_split_in_noto(tmp_path: Path) -> None:
    from xmodal.eval.benchmarks import emoji_styles as bes

    svg_dir = svg_sets.split_svgs(svg_sets.NOTO, _noto_sheet(tmp_path / "noto" / "extracted"))
    extracted = fake_openmoji(tmp_path / "om")
    # the fake sheet draws two emojis; whichever split holds them is the one prepared
    parts = bom.load_split(extracted, "test", 0)
    split = next(s for s, cs in parts.items() if any(h == "1F600" for c in cs for h in c.hexcodes))
    layout = bes.prepare(
        tmp_path / "bench",
        style="noto",
        split=split,
        size=24,
        progress=False,
        extracted=extracted,
        style_extracted=svg_dir,
    )
    items = _items(layout.root)
    assert "1F600" in {it["hexcode"] for it in items} and all("names" in it for it in items)
    assert layout.params["style_package"] == "@svgmoji/noto"
    assert layout.params["style_sha256"] is None  # a folder not unpacked by fetch()
    assert "Noto" in (layout.root / "ATTRIBUTION.txt").read_text(encoding="utf-8")
