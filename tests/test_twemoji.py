"""Twemoji and the cross-style emoji benchmark, against tiny tarballs built on the spot.

Nothing here touches npm or the network: the fake packages have the real layouts (Twemoji's
``package/<codepoints>.svg``, OpenMoji's ``data/`` and ``color|black/svg/``) with a handful
of drawings, and the pinned downloads are stood in for by seeding the cache.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath

import pytest
from PIL import Image

from helpers import add_file, add_members, fake_npm, openmoji_entry, sha256_of, tar_member
from xmodal.cli import main
from xmodal.datasets import emoji_styles, npm, twemoji
from xmodal.datasets import openmoji as om
from xmodal.errors import XmodalError
from xmodal.eval.benchmarks import benchmark_names, get_benchmark, load_layout
from xmodal.eval.benchmarks import emoji_styles as bes
from xmodal.eval.benchmarks import openmoji as bom
from xmodal.eval.trec import read_qrels
from xmodal.media.image import filename_words

# Twemoji draws on a 36x36 canvas, OpenMoji on 72x72.
TW_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 36">'
    '<circle cx="18" cy="18" r="{r}" fill="{fill}"/></svg>'
)
OM_SVG = (
    '<svg viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">'
    '<rect x="10" y="10" width="{w}" height="{w}" fill="{fill}"/></svg>'
)

# OpenMoji hexcode -> the Twemoji file name of the same emoji, written out by hand.
MATCHED = {
    "0023-FE0F-20E3": "23-20e3",  # keycap: leading zeros and FE0F dropped
    "00A9-FE0F": "a9",
    "2764-FE0F": "2764",
    "1F468-200D-1F373": "1f468-200d-1f373",  # ZWJ sequence
    "1F3F3-FE0F-200D-1F308": "1f3f3-fe0f-200d-1f308",  # Twemoji keeps this FE0F
    "1F44B": "1f44b",
    "1F44B-1F3FB": "1f44b-1f3fb",
}
SPECIAL = {
    "0023-FE0F-20E3": "keycap number sign",
    "00A9-FE0F": "copyright",
    "2764-FE0F": "red heart",
    "1F468-200D-1F373": "man cook",
    "1F3F3-FE0F-200D-1F308": "rainbow flag",
    "1F44B": "waving hand",
    "E000": "openmoji logo",  # OpenMoji's own: Twemoji has nothing like it
}
SUBGROUPS = ("face-smiling", "animal-mammal", "food-fruit", "transport-ground")


def _entries() -> list[dict[str, object]]:
    entries = [
        openmoji_entry(h, name, SUBGROUPS[n % len(SUBGROUPS)])
        for n, (h, name) in enumerate(SPECIAL.items())
    ]
    entries.append(
        openmoji_entry(
            "1F44B-1F3FB",
            "waving hand: light skin tone",
            "face-smiling",
            tags="",
            skintone=1,
            skintone_base_hexcode="1F44B",
        )
    )
    # Fillers, every other one drawn by Twemoji, so that each split has concepts of both kinds.
    for n in range(40):
        entries.append(openmoji_entry(f"1F{0x600 + n:03X}", f"filler emoji {n}", SUBGROUPS[n % 4]))
        if n % 2 == 0:
            MATCHED[f"1F{0x600 + n:03X}"] = f"1f{0x600 + n:03x}"
    return entries


ENTRIES = _entries()


def make_twemoji(path: Path, extra: list[tarfile.TarInfo] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        add_file(tar, "package/package.json", b'{"name": "@twemoji/svg"}')
        add_file(tar, "package/license", b"MIT")
        for n, name in enumerate(sorted(MATCHED.values())):
            svg = TW_SVG.format(r=8 + n % 9, fill=f"#{(n * 40503) % 0xFFFFFF:06x}")
            add_file(tar, f"package/{name}.svg", svg.encode())
        # Twemoji drawings OpenMoji's metadata does not have.
        add_file(tar, "package/1f9ff.svg", TW_SVG.format(r=5, fill="#000000").encode())
        add_members(tar, extra or [])
    return path


def make_openmoji(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        add_file(tar, "package/data/openmoji.json", json.dumps(ENTRIES).encode())
        for n, entry in enumerate(ENTRIES):
            hexcode = str(entry["hexcode"])
            colour = OM_SVG.format(w=20 + n % 30, fill=f"#{(n * 7919) % 0xFFFFFF:06x}")
            add_file(tar, f"package/color/svg/{hexcode}.svg", colour.encode())
            if n % 3:  # the line art misses a third of the drawings
                black = OM_SVG.format(w=20 + n % 30, fill="#000000")
                add_file(tar, f"package/black/svg/{hexcode}.svg", black.encode())
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("XMODAL_CACHE", str(root))
    return root


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Unpacked fake OpenMoji and Twemoji packages, shared by the benchmark tests."""
    root = tmp_path_factory.mktemp("packages")
    emoji = om.fetch(root, tarball=make_openmoji(root / "om.tgz"), expected_sha256=None)
    tw = twemoji.fetch(root, tarball=make_twemoji(root / "tw.tgz"), expected_sha256=None)
    return emoji, tw


def _seed_cache(cache: Path, tmp_path: Path) -> None:
    # Unpackings marked as the pinned packages stand in for npm.
    for module, tarball in (
        (om, make_openmoji(tmp_path / "om.tgz")),
        (twemoji, make_twemoji(tmp_path / "tw.tgz")),
    ):
        out = module.fetch(cache, tarball=tarball, expected_sha256=None)
        marker = out / npm.MARKER
        marker.write_text(marker.read_text().replace(sha256_of(tarball), module.TARBALL_SHA256))


# --- code points ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("openmoji_hex", "twemoji_name"),
    [
        ("1F600", "1f600"),
        ("0023-FE0F-20E3", "23-20e3"),
        ("00A9-FE0F", "a9"),
        ("2764-FE0F", "2764"),
        ("1F468-200D-1F373", "1f468-200d-1f373"),
        ("1F3F3-FE0F-200D-1F308", "1f3f3-fe0f-200d-1f308"),
        ("1F441-FE0F-200D-1F5E8-FE0F", "1f441-200d-1f5e8"),
        ("1F1E8-1F1ED", "1f1e8-1f1ed"),
    ],
)
def test_codepoints_match_across_spellings(openmoji_hex: str, twemoji_name: str) -> None:
    assert twemoji.codepoints(openmoji_hex) == twemoji.codepoints(twemoji_name)


def test_codepoints_keep_what_distinguishes_emojis() -> None:
    assert twemoji.codepoints("0023-FE0F-20E3") == (0x23, 0x20E3)
    assert twemoji.codepoints("1F44B") != twemoji.codepoints("1F44B-1F3FB")
    assert twemoji.codepoints("1F468-200D-1F373") != twemoji.codepoints("1F468-1F373")
    with pytest.raises(XmodalError, match="hex code points"):
        twemoji.codepoints("not-hex")


def test_svgs_for_pairs_openmoji_emojis_with_their_twemoji(packages: tuple[Path, Path]) -> None:
    emoji_dir, tw_dir = packages
    emojis = om.load_emojis(emoji_dir, include_skin_tones=True)

    pairs = twemoji.svgs_for(emojis, tw_dir)

    assert {e.hexcode: svg.stem for e, svg in pairs} == MATCHED
    assert [e.hexcode for e, _ in pairs] == [e.hexcode for e in emojis if e.hexcode in MATCHED]


# --- fetching (and the shared npm module) -----------------------------------------------


def test_fetch_unpacks_only_the_svgs(cache: Path, tmp_path: Path) -> None:
    tarball = make_twemoji(tmp_path / "tw.tgz")
    out = twemoji.fetch(tarball=tarball, expected_sha256=sha256_of(tarball))

    assert out == cache / "twemoji" / twemoji.VERSION / "extracted"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    expected = [f"svg/{name}.svg" for name in [*MATCHED.values(), "1f9ff"]]
    assert files == sorted([npm.MARKER, *expected])
    assert (out / npm.MARKER).read_text().split() == [sha256_of(tarball), "svg"]


def test_fetch_rejects_a_wrong_checksum(cache: Path, tmp_path: Path) -> None:
    tarball = make_twemoji(tmp_path / "tw.tgz")
    with pytest.raises(XmodalError, match="checksum mismatch") as err:
        twemoji.fetch(tarball=tarball, expected_sha256="0" * 64)
    assert sha256_of(tarball) in str(err.value)
    assert not (cache / "twemoji" / twemoji.VERSION / "extracted").exists()


def test_fetch_deletes_a_cached_download_with_the_wrong_checksum(
    cache: Path, tmp_path: Path
) -> None:
    cached = cache / "twemoji" / twemoji.VERSION / twemoji.TARBALL_NAME
    cached.parent.mkdir(parents=True)
    make_twemoji(cached)
    with pytest.raises(XmodalError, match=twemoji.TARBALL_SHA256):
        twemoji.fetch()
    assert not cached.exists()


def test_fetch_runs_npm_pack_for_the_scoped_package(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = make_twemoji(tmp_path / "tw.tgz")
    log = fake_npm(tmp_path, tarball, twemoji.TARBALL_NAME, monkeypatch)

    out = twemoji.fetch(expected_sha256=sha256_of(tarball))

    assert log.read_text().split() == ["pack", "@twemoji/svg@15.0.0", "--silent"]
    assert (cache / "twemoji" / twemoji.VERSION / twemoji.TARBALL_NAME).is_file()
    assert (out / "svg" / "23-20e3.svg").is_file()


def test_fetch_rejects_a_tarball_without_svgs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz") as tar:
        add_file(tar, "package/readme.md", b"hello")
    with pytest.raises(XmodalError, match="not a Twemoji package"):
        twemoji.fetch(tarball=empty, expected_sha256=None)


@pytest.mark.parametrize(
    "bad",
    [
        tar_member("package/../../escaped.svg"),
        tar_member("/tmp/escaped.svg"),
        tar_member("package\\..\\escaped.svg"),
        tar_member("package/1f600.svg", tarfile.SYMTYPE, "/etc/passwd"),
    ],
    ids=["dotdot", "absolute", "backslash", "symlink"],
)
def test_shared_unpacking_refuses_unsafe_members(
    cache: Path, tmp_path: Path, bad: tarfile.TarInfo
) -> None:
    evil = make_twemoji(tmp_path / "evil.tgz", extra=[bad])
    with pytest.raises(XmodalError, match="refusing to unpack"):
        twemoji.fetch(tarball=evil, expected_sha256=None)
    root = cache / "twemoji" / twemoji.VERSION
    assert list(root.iterdir()) == []
    assert not any(p.name == "escaped.svg" for p in tmp_path.rglob("*"))


def test_safe_member_path_directly(tmp_path: Path) -> None:
    assert npm.safe_member_path(tar_member("package/a.svg"), tmp_path).parts == ("package", "a.svg")
    for name in ("../a", "/a", "a/../../b", "a\\b", "a\0b"):
        with pytest.raises(XmodalError, match="unsafe member name"):
            npm.safe_member_path(tar_member(name), tmp_path)


def test_a_changed_selection_unpacks_again(tmp_path: Path) -> None:
    tarball = make_twemoji(tmp_path / "tw.tgz")
    narrow = npm.PinnedPackage(
        name="@twemoji/svg",
        version="0.0.0",
        tarball_name="x.tgz",
        sha256=sha256_of(tarball),
        title="Twemoji",
        cache_name="selection-test",
        members=npm.MemberFilter(
            key="keycaps",
            select=lambda name: PurePosixPath("k.svg") if name.endswith("20e3.svg") else None,
            check=lambda found: None,
        ),
    )
    wide = dataclasses.replace(narrow, members=twemoji.PACKAGE.members)

    out = npm.fetch(narrow, tarball=tarball, expected_sha256=narrow.sha256)
    assert [p.name for p in out.iterdir() if p.name != npm.MARKER] == ["k.svg"]
    assert npm.fetch(wide, tarball=tarball, expected_sha256=wide.sha256) == out
    assert (out / "svg" / "23-20e3.svg").is_file() and not (out / "k.svg").exists()


# --- rendering --------------------------------------------------------------------------


def test_render_for_draws_twemoji_at_the_requested_size(
    packages: tuple[Path, Path], tmp_path: Path
) -> None:
    emoji_dir, tw_dir = packages
    emojis = om.load_emojis(emoji_dir)
    out = tmp_path / "tw"

    drawings = twemoji.render_for(emojis, out, size=48, extracted=tw_dir, progress=False)

    assert {d.emoji.hexcode for d in drawings} == {h for h in MATCHED if h != "1F44B-1F3FB"}
    keycap = next(d for d in drawings if d.emoji.hexcode == "0023-FE0F-20E3")
    assert keycap.emoji.annotation == "keycap number sign"
    assert keycap.path == om.image_path(keycap.emoji, out)
    with Image.open(keycap.path) as img:
        assert img.size == (48, 48) and img.mode == "RGBA"
        assert img.getpixel((0, 0))[3] == 0  # transparent outside the drawing
        assert img.getpixel((24, 24))[3] == 255  # the 36x36 canvas is scaled, not cropped
    assert not list(out.rglob("*.json"))
    attribution = (out / "ATTRIBUTION.txt").read_text(encoding="utf-8")
    assert "CC BY 4.0" in attribution and "Twitter" in attribution


def test_drawings_for_takes_hexcodes(packages: tuple[Path, Path], tmp_path: Path) -> None:
    emoji_dir, tw_dir = packages
    wanted = ["1F44B-1F3FB", "E000", "2764-FE0F", "NOT-KNOWN"]

    drawings = emoji_styles.drawings_for(
        "twemoji",
        wanted,
        tmp_path / "out",
        size=16,
        openmoji_extracted=emoji_dir,
        style_extracted=tw_dir,
        progress=False,
    )

    assert [(d.emoji.hexcode, d.emoji.annotation) for d in drawings] == [
        ("1F44B-1F3FB", "waving hand: light skin tone"),
        ("2764-FE0F", "red heart"),
    ]
    with pytest.raises(XmodalError, match="unknown emoji style"):
        emoji_styles.drawings_for("comic-sans", wanted, tmp_path / "x")


# --- the benchmark ----------------------------------------------------------------------


def _drawn_by(style: str, hexcode: str) -> bool:
    if style == "twemoji":
        return hexcode in MATCHED
    n = next(i for i, e in enumerate(ENTRIES) if e["hexcode"] == hexcode)
    return n % 3 != 0


@pytest.mark.parametrize("style", ["twemoji", "openmoji-black"])
def test_prepare_builds_the_split_in_the_style(
    packages: tuple[Path, Path], tmp_path: Path, style: str
) -> None:
    emoji_dir, tw_dir = packages
    layout = bes.prepare(
        tmp_path / "bench",
        style=style,
        size=24,
        progress=False,
        extracted=emoji_dir,
        style_extracted=tw_dir if style == "twemoji" else None,
    )
    root = layout.root

    # The split is the openmoji benchmark's, concept for concept.
    parts = bom.split_concepts(bom.concepts(om.load_emojis(emoji_dir, include_skin_tones=True)))
    test_concepts = parts["test"]
    covered = [c for c in test_concepts if any(_drawn_by(style, e.hexcode) for e in c.bases)]
    assert 0 < len(covered) < len(test_concepts)
    assert bom.read_splits(root / bom.SPLITS_FILE)["test"] == sorted(
        h for c in test_concepts for h in c.hexcodes
    )
    params = layout.params
    assert params["style"] == style and params["split"] == "test"
    assert params["split_concepts"] == len(test_concepts)
    assert params["covered_concepts"] == len(covered) == layout.counts["concepts"]
    assert params["coverage"] == round(len(covered) / len(test_concepts), 4)
    assert params["style_version"] == ("15.0.0" if style == "twemoji" else om.VERSION)
    # What was really unpacked is recorded: here the fake tarball, not the pinned one.
    unpacked_from = (tw_dir if style == "twemoji" else emoji_dir).parents[2]
    tarball = unpacked_from / ("tw.tgz" if style == "twemoji" else "om.tgz")
    assert params["style_sha256"] == sha256_of(tarball)
    assert params["attribution"] == (root / "ATTRIBUTION.txt").read_text(encoding="utf-8")

    items = json.loads((root / bom.ITEMS_FILE).read_text(encoding="utf-8"))
    assert {it["hexcode"] for it in items} == {
        e.hexcode for c in covered for e in c.bases if _drawn_by(style, e.hexcode)
    }
    assert [t.name for t in layout.tasks] == ["t2i", "t2i-tags", "i2t", "category"]

    # No word of any caption in a document's name, and no sidecars.
    for folder in layout.documents:
        for f in folder.iterdir():
            assert filename_words(f.stem) == "", f.name
            assert f.suffix in (".png", ".txt")
    images = sorted((root / "images").iterdir())
    assert len(images) == len(items) == layout.counts["images"]
    with Image.open(images[0]) as img:
        assert img.size == (24, 24)

    by_image = {it["image"]: it for it in items}
    queries = dict(line.split("\t") for line in layout.task("t2i").queries.read_text().splitlines())
    qrels = read_qrels(layout.task("t2i").qrels)
    assert set(queries) == set(qrels)
    for qid, caption in queries.items():
        assert [by_image[doc]["annotation"] for doc in qrels[qid]] == [caption]
    i2t = read_qrels(layout.task("i2t").qrels)
    i2t_queries = dict(
        line.split("\t") for line in layout.task("i2t").queries.read_text().splitlines()
    )
    for qid, query in i2t_queries.items():
        assert list(i2t[qid]) == [by_image[query.removeprefix("image:")]["text"]]


def test_prepare_from_a_plain_folder_and_with_a_limit(
    packages: tuple[Path, Path], tmp_path: Path
) -> None:
    emoji_dir, tw_dir = packages
    plain = tmp_path / "plain"
    shutil.copytree(tw_dir, plain)
    (plain / npm.MARKER).unlink()
    layout = bes.prepare(
        tmp_path / "bench",
        size=16,
        limit=2,
        progress=False,
        extracted=emoji_dir,
        style_extracted=plain,
    )
    assert layout.params["style_sha256"] is None  # a folder of unknown origin
    assert layout.counts["concepts"] == 2
    assert layout.params["covered_concepts"] > 2  # the limit applies after the coverage


def test_prepare_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(XmodalError, match="unknown emoji style"):
        bes.prepare(tmp_path / "x", style="comic-sans")
    with pytest.raises(XmodalError, match="split must be one of"):
        bes.prepare(tmp_path / "x", split="everything")


def test_registered_and_prepared_from_the_command_line(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "emoji-styles" in benchmark_names()
    assert get_benchmark("emoji-styles") is bes.prepare
    _seed_cache(cache, tmp_path)
    out = tmp_path / "bench"

    code = main(["bench", "prepare", "emoji-styles", "--style", "twemoji", "--out", str(out),
                 "--size", "32", "--json"])  # fmt: skip

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    layout = load_layout(out)
    assert printed["counts"] == dict(layout.counts)
    assert layout.params["style_sha256"] == twemoji.TARBALL_SHA256
    assert layout.params["style_package"] == "@twemoji/svg"

    # The classic (pixel) model indexes and scores it with the ordinary runner.
    done = subprocess.run(
        [sys.executable, "-m", "xmodal.cli", "bench", "run", "--data", str(out),
         "--model", "classic", "--json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "XMODAL_CACHE": str(cache)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    tasks = json.loads(done.stdout)["tasks"]
    assert set(tasks) == {"t2i", "t2i-tags", "i2t", "category"}
    category = tasks["category"]
    assert category["num_queries"] > 0 and 0.0 <= category["map"] <= 1.0
