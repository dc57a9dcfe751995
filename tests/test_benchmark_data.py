"""Built-in benchmark data: manifests, concept splits, and labels that match what was drawn.

OpenMoji runs on a small fake package written on the spot (no network); the scenes are
generated for real, at a small size.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers import openmoji_entry
from xmodal.errors import XmodalError
from xmodal.eval import benchmarks
from xmodal.eval.benchmarks import (
    BenchmarkLayout,
    benchmark_names,
    get_benchmark,
    load_layout,
    register_benchmark,
    write_manifest,
)
from xmodal.eval.benchmarks import openmoji as bom
from xmodal.eval.benchmarks import scenes as bsc
from xmodal.eval.trec import read_qrels
from xmodal.media.image import filename_words
from xmodal.media.text import SIDECAR_EXTENSIONS
from xmodal.media.walk import walk

SVG = (
    '<svg viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">'
    '<circle cx="36" cy="36" r="{r}" fill="{fill}"/></svg>'
)
SUBGROUPS = ("face-smiling", "animal-mammal", "food-fruit", "transport-ground")


def _fake_entries() -> list[dict[str, Any]]:
    entries = [
        openmoji_entry(f"1F{0x600 + n:03X}", f"emoji number {n}", SUBGROUPS[n % len(SUBGROUPS)])
        for n in range(36)
    ]
    # Two drawings with one caption, as OpenMoji has for "brain" or "white flag".
    entries.append(openmoji_entry("E000", "emoji number 5", "extras"))
    # Skin-tone variants (the real package writes a single tone as a number).
    tones: dict[int | str, str] = {1: "1F3FB", 3: "1F3FD", "1,5": "1F3FB-1F3FF"}
    for base in ("1F600", "1F607", "1F60B"):
        for tone, suffix in tones.items():
            entries.append(
                openmoji_entry(
                    f"{base}-{suffix}",
                    f"variant of {base}: tone {tone}",
                    "face-smiling",
                    tags="",
                    skintone=tone,
                    skintone_base_hexcode=base,
                )
            )
    return entries


@pytest.fixture(scope="module")
def fake_openmoji(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("openmoji") / "extracted"
    (root / "data").mkdir(parents=True)
    (root / "color" / "svg").mkdir(parents=True)
    entries = _fake_entries()
    (root / "data" / "openmoji.json").write_text(json.dumps(entries), encoding="utf-8")
    for n, entry in enumerate(entries):
        svg = SVG.format(r=10 + n % 20, fill=f"#{(n * 40503) % 0xFFFFFF:06x}")
        (root / "color" / "svg" / f"{entry['hexcode']}.svg").write_text(svg, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def moji(fake_openmoji: Path, tmp_path_factory: pytest.TempPathFactory) -> BenchmarkLayout:
    out = tmp_path_factory.mktemp("bench") / "openmoji"
    return bom.prepare(
        out,
        split="train",
        size=24,
        progress=False,
        include_skin_tones=True,
        extracted=fake_openmoji,
    )


@pytest.fixture(scope="module")
def scenes_easy(tmp_path_factory: pytest.TempPathFactory) -> BenchmarkLayout:
    out = tmp_path_factory.mktemp("bench") / "scenes"
    return bsc.prepare(out, n_images=80, seed=7, size=64, progress=False)


@pytest.fixture(scope="module")
def scenes_hard(tmp_path_factory: pytest.TempPathFactory) -> BenchmarkLayout:
    out = tmp_path_factory.mktemp("bench") / "scenes-hard"
    return bsc.prepare(out, n_images=60, seed=3, difficulty="hard", size=64, progress=False)


def _read_tsv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        assert len(fields) == 2, line
        qid, query = fields
        assert qid and not any(c.isspace() for c in qid)
        assert query == query.strip() and query
        assert qid not in out
        out[qid] = query
    return out


def _check_layout_files(layout: BenchmarkLayout) -> None:
    """Every query parses, every judgement names an existing document of the right kind."""
    for task in layout.tasks:
        queries = _read_tsv(task.queries)
        qrels = read_qrels(task.qrels)
        assert set(queries) == set(qrels), task.name
        assert len(queries) == task.num_queries > 0
        for qid, query in queries.items():
            if task.query_modality == "image":
                assert query.startswith("image:")
                assert (layout.root / query.removeprefix("image:")).is_file()
            else:
                assert not query.startswith("image:")
            assert qrels[qid], f"{task.name} {qid} has nothing relevant"
            for doc, rel in qrels[qid].items():
                assert rel == 1
                path = layout.root / doc
                assert path.is_file(), doc
                assert any(path.is_relative_to(d) for d in task.documents), doc
                if task.exclude_query_item:
                    assert doc != query.removeprefix("image:")


def _check_documents_are_wordless(layout: BenchmarkLayout) -> None:
    for folder in layout.documents:
        files = sorted(folder.iterdir())
        assert files
        names = {f.name for f in files}
        for f in files:
            assert filename_words(f.stem) == "", f.name
            if f.suffix == ".png":
                assert not any(f.stem + ext in names for ext in SIDECAR_EXTENSIONS)
                assert not (f.parent / (f.name + ".json")).exists()
    # Images and texts must not pair up by stem: that would turn texts into sidecars.
    image_stems = {p.stem for p in (layout.root / "images").iterdir()}
    text_stems = {p.stem for p in (layout.root / "texts").iterdir()}
    assert not image_stems & text_stems


# --- registry and manifest --------------------------------------------------------------


def test_builtins_are_registered() -> None:
    assert {"openmoji", "scenes"} <= set(benchmark_names())
    assert get_benchmark("scenes") is bsc.prepare
    assert get_benchmark("openmoji") is bom.prepare
    with pytest.raises(XmodalError, match="unknown benchmark"):
        get_benchmark("no-such-benchmark")


def test_registering_a_taken_name_fails() -> None:
    def impostor(out: Path, **options: Any) -> BenchmarkLayout:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="already registered"):
        register_benchmark("scenes", impostor)
    register_benchmark("scenes", bsc.prepare)  # the same function again is harmless


def test_manifest_round_trips(scenes_easy: BenchmarkLayout, tmp_path: Path) -> None:
    assert load_layout(scenes_easy.root) == scenes_easy
    assert scenes_easy.task("i2t").exclude_query_item
    assert scenes_easy.task("t2i-negation").target_modality == "image"
    assert scenes_easy.params["n_images"] == 80

    # Written elsewhere, the manifest still resolves every path under its own root.
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "benchmark.json").write_bytes((scenes_easy.root / "benchmark.json").read_bytes())
    moved = load_layout(copy)
    assert moved.root == copy
    assert moved.task("i2t").qrels == copy / "qrels" / "i2t.qrels"
    assert benchmarks.layout_to_json(moved) == benchmarks.layout_to_json(scenes_easy)

    write_manifest(moved)
    assert load_layout(copy) == moved
    assert not [p for p in copy.iterdir() if p.name.endswith(".tmp")]


def test_manifest_refuses_paths_outside_the_root(tmp_path: Path) -> None:
    with pytest.raises(XmodalError, match="missing"):
        load_layout(tmp_path)
    manifest = {
        "format": benchmarks.FORMAT_VERSION,
        "name": "x",
        "documents": ["../elsewhere"],
        "tasks": [],
    }
    (tmp_path / "benchmark.json").write_text(json.dumps(manifest))
    with pytest.raises(XmodalError, match="leaves the benchmark folder"):
        load_layout(tmp_path)


def test_prepare_refuses_a_folder_that_is_not_a_benchmark(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(XmodalError, match="refusing"):
        bsc.prepare(tmp_path, n_images=2, progress=False)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_prepare_replaces_an_earlier_preparation(tmp_path: Path) -> None:
    out = tmp_path / "scenes"
    bsc.prepare(out, n_images=12, size=32, progress=False)
    layout = bsc.prepare(out, n_images=5, size=32, progress=False)
    assert len(list((out / "images").iterdir())) == 5
    assert layout.counts["images"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenes"]


# --- OpenMoji ---------------------------------------------------------------------------


def test_openmoji_splits_are_disjoint_and_keep_concepts_whole(fake_openmoji: Path) -> None:
    emojis = bom.om.load_emojis(fake_openmoji, include_skin_tones=True)
    parts = bom.split_concepts(bom.concepts(emojis), seed=0)
    hexcodes = {name: {h for c in parts[name] for h in c.hexcodes} for name in bom.SPLITS}

    assert all(hexcodes[name] for name in bom.SPLITS)
    for a, b in itertools.combinations(bom.SPLITS, 2):
        assert not hexcodes[a] & hexcodes[b]
    assert set().union(*hexcodes.values()) == {e.hexcode for e in emojis}
    split_of = {h: name for name, hs in hexcodes.items() for h in hs}
    for e in emojis:
        assert split_of[e.hexcode] == split_of[e.base_hexcode]
    # Drawings that share a caption are one concept too.
    assert split_of["E000"] == split_of["1F605"]
    sizes = [len(parts[name]) for name in bom.SPLITS]
    assert sizes[0] > sizes[2] > 0 and sum(sizes) == len(bom.concepts(emojis))


def test_openmoji_split_depends_on_the_seed_only(fake_openmoji: Path) -> None:
    emojis = bom.om.load_emojis(fake_openmoji, include_skin_tones=True)

    def keys(seed: int, order: Sequence[Any]) -> dict[str, list[str]]:
        parts = bom.split_concepts(bom.concepts(order), seed)
        return {name: [c.key for c in parts[name]] for name in bom.SPLITS}

    assert keys(0, emojis) == keys(0, list(reversed(emojis)))
    assert keys(0, emojis) != keys(1, emojis)


def test_openmoji_prepare_writes_consistent_files(
    moji: BenchmarkLayout, fake_openmoji: Path
) -> None:
    root = moji.root
    assert [t.name for t in moji.tasks] == ["t2i", "t2i-tags", "i2t", "category"]
    assert moji.task("category").metric == "map" and moji.task("category").exclude_query_item
    assert "CC BY-SA 4.0" in (root / "ATTRIBUTION.txt").read_text(encoding="utf-8")
    _check_layout_files(moji)
    _check_documents_are_wordless(moji)

    recorded = bom.read_splits(root / bom.SPLITS_FILE)
    items = json.loads((root / bom.ITEMS_FILE).read_text(encoding="utf-8"))
    assert {it["hexcode"] for it in items} == set(recorded["train"])
    assert load_layout(root).counts["images"] == len(items)

    by_image = {it["image"]: it for it in items}
    by_text = {it["text"]: it for it in items}
    # Each text document holds its drawing's caption and tags.
    for it in items:
        lines = (root / it["text"]).read_text(encoding="utf-8").splitlines()
        assert lines[0] == it["annotation"]
        assert lines[1:] == ([", ".join(it["tags"])] if it["tags"] else [])

    t2i_queries = _read_tsv(moji.task("t2i").queries)
    t2i = read_qrels(moji.task("t2i").qrels)
    for qid, query in t2i_queries.items():
        judged = [by_image[doc] for doc in t2i[qid]]
        bases = [it for it in judged if it["hexcode"] == it["base_hexcode"]]
        assert bases and all(it["annotation"] == query for it in bases)
        # A caption finds the drawing and every skin tone of it.
        variants = {
            it["hexcode"] for it in items if it["base_hexcode"] in {b["hexcode"] for b in bases}
        }
        assert {it["hexcode"] for it in judged} == variants
    captions = [q for q in t2i_queries.values()]
    assert len(captions) == len(set(captions))
    if "1F605" in recorded["train"]:
        shared = next(q for q, text in t2i_queries.items() if text == "emoji number 5")
        assert len(t2i[shared]) == 2

    i2t_queries = _read_tsv(moji.task("i2t").queries)
    i2t = read_qrels(moji.task("i2t").qrels)
    assert len(i2t_queries) == len(items)
    for qid, query in i2t_queries.items():
        own = by_image[query.removeprefix("image:")]
        assert own["text"] in i2t[qid]
        assert all(by_text[t]["annotation"] == own["annotation"] for t in i2t[qid])

    category_queries = _read_tsv(moji.task("category").queries)
    category = read_qrels(moji.task("category").qrels)
    for qid, query in category_queries.items():
        own = by_image[query.removeprefix("image:")]
        expected = {
            it["image"]
            for it in items
            if it["subgroup"] == own["subgroup"] and it["image"] != own["image"]
        }
        assert set(category[qid]) == expected


def test_openmoji_prepare_is_deterministic_and_limits(
    moji: BenchmarkLayout, fake_openmoji: Path, tmp_path: Path
) -> None:
    again = bom.prepare(
        tmp_path / "again",
        split="train",
        size=24,
        progress=False,
        include_skin_tones=True,
        extracted=fake_openmoji,
    )
    for rel in ("splits.json", "items.json", "qrels/t2i.qrels", "queries/category.tsv"):
        assert (again.root / rel).read_bytes() == (moji.root / rel).read_bytes()

    small = bom.prepare(
        tmp_path / "small", split="test", size=24, limit=3, progress=False, extracted=fake_openmoji
    )
    items = json.loads((small.root / bom.ITEMS_FILE).read_text(encoding="utf-8"))
    assert len({it["concept"] for it in items}) == 3
    # Skin tones are left out by default.
    assert all(it["hexcode"] == it["base_hexcode"] for it in items)
    test_split = set(bom.read_splits(small.root / bom.SPLITS_FILE)["test"])
    assert {it["hexcode"] for it in items} <= test_split

    with pytest.raises(XmodalError, match="split"):
        bom.prepare(tmp_path / "bad", split="dev", extracted=fake_openmoji, progress=False)


# --- scenes -----------------------------------------------------------------------------


def _fits(attrs: Mapping[str, str], shape: Mapping[str, Any]) -> bool:
    return all(shape[k] == v for k, v in attrs.items())


def _left_of(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return bool(a["bbox"][2] < b["bbox"][0])


def _above(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return bool(a["bbox"][3] < b["bbox"][1])


_RELATION_BY_BOXES = {
    "left of": _left_of,
    "right of": lambda a, b: _left_of(b, a),
    "above": _above,
    "below": lambda a, b: _above(b, a),
}


def _rederive(spec: Mapping[str, Any], shapes: Sequence[Mapping[str, Any]]) -> bool:
    """Relevance worked out again from the recorded shapes, spatial words from the boxes."""
    kind = spec["type"]
    if kind == "attribute":
        return any(_fits(spec["attrs"], s) for s in shapes)
    if kind == "count":
        return len([s for s in shapes if _fits(spec["attrs"], s)]) == spec["count"]
    if kind == "relation":
        holds = _RELATION_BY_BOXES[spec["relation"]]
        return any(
            _fits(spec["a"], a) and _fits(spec["b"], b) and holds(a, b)
            for a, b in itertools.permutations(shapes, 2)
        )
    if kind == "negated_attribute":
        ((key, value),) = spec["not"].items()
        return any(_fits(spec["attrs"], s) and s[key] != value for s in shapes)
    if kind == "absent":
        return any(_fits(spec["attrs"], s) for s in shapes) and not any(
            _fits(spec["absent"], s) for s in shapes
        )
    raise AssertionError(kind)


@pytest.mark.parametrize("which", ["scenes_easy", "scenes_hard"])
def test_scene_qrels_are_exact(which: str, request: pytest.FixtureRequest) -> None:
    layout: BenchmarkLayout = request.getfixturevalue(which)
    records = json.loads((layout.root / bsc.RECORDS_FILE).read_text(encoding="utf-8"))
    scenes = records["scenes"]
    assert len(scenes) == layout.counts["images"]
    _check_layout_files(layout)
    _check_documents_are_wordless(layout)

    for task in layout.tasks:
        if task.query_modality != "text":
            continue
        queries = _read_tsv(task.queries)
        qrels = read_qrels(task.qrels)
        recorded = records["queries"][task.name]
        assert set(recorded) == set(queries)
        for qid, query in queries.items():
            spec = recorded[qid]["spec"]
            assert recorded[qid]["text"] == query
            for side in ("attrs", "a", "b", "not", "absent"):
                for word in spec.get(side, {}).values():
                    assert word in query, (query, spec)
            expected = {s["image"] for s in scenes if _rederive(spec, s["shapes"])}
            assert set(qrels[qid]) == expected, (task.name, query)

    i2t_queries = _read_tsv(layout.task("i2t").queries)
    i2t = read_qrels(layout.task("i2t").qrels)
    caption_of = {s["text"]: s["caption"] for s in scenes}
    for qid, query in i2t_queries.items():
        scene = next(s for s in scenes if s["image"] == query.removeprefix("image:"))
        assert scene["text"] in i2t[qid]
        assert {caption_of[t] for t in i2t[qid]} == {scene["caption"]}
        assert (layout.root / scene["text"]).read_text(encoding="utf-8") == scene["caption"] + "\n"


def test_scene_tasks_cover_every_kind(scenes_easy: BenchmarkLayout) -> None:
    names = [t.name for t in scenes_easy.tasks]
    assert names == ["t2i-attribute", "t2i-compositional", "t2i-negation", "t2i-counting", "i2t"]
    negation = _read_tsv(scenes_easy.task("t2i-negation").queries).values()
    assert any("that is not" in q for q in negation)
    assert any(" and no " in q for q in negation)
    assert scenes_easy.task("i2t").num_queries == 80


def _shape(shape: str, colour: str, position: str, size: str = "large") -> bsc.Shape:
    return bsc.Shape(shape, colour, size, position, (0.0, 0.0, 0.0, 0.0))


def test_negation_semantics() -> None:
    not_red = {"type": "negated_attribute", "attrs": {"shape": "circle"}, "not": {"colour": "red"}}
    assert bsc.query_text(not_red) == "a circle that is not red"
    assert not bsc.relevant(not_red, [_shape("circle", "red", "left")])
    assert not bsc.relevant(not_red, [_shape("square", "blue", "left")])
    # Some circle of another colour is enough, even beside a red one.
    assert bsc.relevant(not_red, [_shape("circle", "red", "left"), _shape("circle", "blue", "top")])

    not_circle = {
        "type": "negated_attribute",
        "attrs": {"colour": "red"},
        "not": {"shape": "circle"},
    }
    assert bsc.query_text(not_circle) == "a red shape that is not a circle"
    assert bsc.relevant(not_circle, [_shape("square", "red", "left")])
    assert not bsc.relevant(not_circle, [_shape("circle", "red", "left")])

    no_blue = {
        "type": "absent",
        "attrs": {"colour": "red", "shape": "circle"},
        "absent": {"colour": "blue"},
    }
    assert bsc.query_text(no_blue) == "a red circle and no blue shapes"
    assert bsc.relevant(
        no_blue, [_shape("circle", "red", "left"), _shape("square", "green", "top")]
    )
    assert not bsc.relevant(
        no_blue, [_shape("circle", "red", "left"), _shape("square", "blue", "top")]
    )
    assert not bsc.relevant(no_blue, [_shape("circle", "green", "left")])


def test_relations_and_captions_follow_the_grid() -> None:
    left, centre, top = (
        _shape("circle", "red", "left", "small"),
        _shape("square", "blue", "centre"),
        _shape("triangle", "green", "top"),
    )
    spec = {
        "type": "relation",
        "a": {"colour": "red", "shape": "circle"},
        "relation": "left of",
        "b": {"shape": "square"},
    }
    assert bsc.query_text(spec) == "a red circle left of a square"
    assert bsc.relevant(spec, [left, centre])
    assert not bsc.relevant({**spec, "relation": "right of"}, [left, centre])
    assert bsc.relevant({**spec, "b": {"shape": "triangle"}}, [left, top])  # diagonal pairs
    assert not bsc.relevant({**spec, "b": {"shape": "triangle"}}, [left, centre])
    assert bsc.caption([left, centre]) == "a small red circle left of a large blue square"
    assert bsc.caption([top]) == "a large green triangle at the top"
    count = {"type": "count", "attrs": {"shape": "circle"}, "count": 2}
    assert bsc.query_text(count) == "two circles"
    assert not bsc.relevant(count, [left, centre])


def test_scenes_are_deterministic(scenes_easy: BenchmarkLayout, tmp_path: Path) -> None:
    again = bsc.prepare(tmp_path / "again", n_images=80, seed=7, size=64, progress=False)
    files = sorted(
        p.relative_to(scenes_easy.root) for p in scenes_easy.root.rglob("*") if p.is_file()
    )
    assert files == sorted(p.relative_to(again.root) for p in again.root.rglob("*") if p.is_file())
    for rel in files:
        assert (again.root / rel).read_bytes() == (scenes_easy.root / rel).read_bytes(), rel

    other = bsc.prepare(tmp_path / "other", n_images=80, seed=8, size=64, progress=False)
    assert (other.root / bsc.RECORDS_FILE).read_bytes() != (
        scenes_easy.root / bsc.RECORDS_FILE
    ).read_bytes()


def test_scene_pictures_show_their_shapes(scenes_easy: BenchmarkLayout) -> None:
    from PIL import Image

    records = json.loads((scenes_easy.root / bsc.RECORDS_FILE).read_text(encoding="utf-8"))
    colours = records["colours"]
    for scene in records["scenes"][:20]:
        with Image.open(scenes_easy.root / scene["image"]) as im:
            assert im.size == (64, 64) and im.mode == "RGB"
            for shape in scene["shapes"]:
                x0, y0, x1, y1 = shape["bbox"]
                centre = im.getpixel((round((x0 + x1) / 2), round((y0 + y1) / 2)))
                assert isinstance(centre, tuple)
                want = colours[shape["colour"]]
                assert sum(abs(a - b) for a, b in zip(centre, want, strict=True)) < 40, shape


def test_scene_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(XmodalError, match="difficulty"):
        bsc.prepare(tmp_path / "x", n_images=3, difficulty="medium", progress=False)
    with pytest.raises(XmodalError, match="n_images"):
        bsc.prepare(tmp_path / "x", n_images=0, progress=False)


def test_oracle_captions_and_chance_and_a_real_run(fake_openmoji: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from xmodal.eval.bench import random_baseline

    oracle = bom.prepare(
        tmp_path / "oracle",
        split="train",
        size=24,
        progress=False,
        extracted=fake_openmoji,
        oracle_captions=True,
    )
    sidecars = sorted((oracle.root / "images").glob("*.json"))
    assert sidecars and len(sidecars) == len(list((oracle.root / "images").glob("*.png")))
    assert json.loads(sidecars[0].read_text())["caption"]
    assert "ORACLE" in oracle.description

    chance = random_baseline(oracle, depth=5, seed=1)
    assert set(chance) == {t.name for t in oracle.tasks}
    for result in chance.values():
        assert 0.0 <= result.means["recall@5"] <= 1.0

    # the oracle is what it says: words attached to each drawing find it
    done = subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "bench", "run", "--data", str(oracle.root),
         "--model", "bm25", "--task", "t2i", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    t2i = json.loads(done.stdout)["tasks"]["t2i"]
    assert t2i["recall@10"] > chance["t2i"].means["recall@10"]
    assert t2i["metric"] == "recall@10" and t2i["num_queries"] > 0


def test_scenes_oracle_captions(scenes_easy: BenchmarkLayout, tmp_path: Path) -> None:
    assert not list((scenes_easy.root / "images").glob("*.txt"))
    assert "ORACLE" not in scenes_easy.description
    oracle = bsc.prepare(tmp_path / "oracle", n_images=6, seed=1, size=32, oracle_captions=True)
    assert "ORACLE" in oracle.description and oracle.params["oracle_captions"] is True
    records = json.loads((oracle.root / bsc.RECORDS_FILE).read_text(encoding="utf-8"))
    for scene in records["scenes"]:
        sidecar = (oracle.root / scene["image"]).with_suffix(".txt")
        assert sidecar.read_text(encoding="utf-8") == scene["caption"] + "\n"
    # the sidecars describe the pictures: the collection sees them as no documents of their own
    found = walk([oracle.root / "images"]).files
    assert len(found) == 6 and all(f.sidecars for f in found)
