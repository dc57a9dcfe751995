"""OpenMoji fetching, unpacking and rendering, against a tiny tarball built on the spot.

Nothing here touches npm or the network: the tarball has the real package's layout but
only a handful of drawings.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from helpers import add_file, add_members, fake_npm, sha256_of, tar_member
from xmodal.datasets import npm, openmoji
from xmodal.datasets.openmoji import Emoji
from xmodal.errors import XmodalError

RED_DISC = (
    '<svg viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">'
    '<circle cx="36" cy="36" r="20" fill="#ff0000"/></svg>'
)
BLUE_SQUARE = (
    '<svg viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">'
    '<rect x="16" y="16" width="40" height="40" fill="#0000ff"/></svg>'
)

ENTRIES = [
    {
        "emoji": "🐶",
        "hexcode": "1F436",
        "group": "animals-nature",
        "subgroups": "animal-mammal",
        "annotation": "dog face",
        "tags": "dog, face, pet",
        "openmoji_tags": "puppy, pet",
        "skintone": "",
        "skintone_base_hexcode": "",
    },
    {
        "emoji": "🐱",
        "hexcode": "1F431",
        "group": "animals-nature",
        "subgroups": "animal-mammal",
        "annotation": "cat face",
        "tags": "cat, face",
        "openmoji_tags": "",
        "skintone": "",
        "skintone_base_hexcode": "",
    },
    {
        "emoji": "👋",
        "hexcode": "1F44B",
        "group": "people-body",
        "subgroups": "hand-fingers-open",
        "annotation": "waving hand",
        "tags": "hand, wave",
        "openmoji_tags": "",
        "skintone": "",
        "skintone_base_hexcode": "1F44B",
    },
    {
        "emoji": "👋🏻",
        "hexcode": "1F44B-1F3FB",
        "group": "people-body",
        "subgroups": "hand-fingers-open",
        "annotation": "waving hand: light skin tone",
        "tags": "",
        "openmoji_tags": "",
        # The real package stores single skin tones as numbers.
        "skintone": 1,
        "skintone_base_hexcode": "1F44B",
    },
    {
        "emoji": "\ue000",
        "hexcode": "E000",
        "group": "extras-openmoji",
        "subgroups": "animals-nature",
        "annotation": "woman’s goldfish",
        "tags": "",
        "openmoji_tags": "goldfish, fish",
        "skintone": "",
        "skintone_base_hexcode": "",
    },
]

SVGS = {
    "1F436": RED_DISC,
    "1F431": BLUE_SQUARE,
    "1F44B": RED_DISC,
    "1F44B-1F3FB": RED_DISC,
    "E000": BLUE_SQUARE,
}


def make_tarball(
    path: Path,
    *,
    svgs: dict[str, str] | None = None,
    black: dict[str, str] | None = None,
    extra: list[tarfile.TarInfo] | None = None,
) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        add_file(tar, "package/package.json", b'{"name": "openmoji"}')
        add_file(tar, "package/data/openmoji.json", json.dumps(ENTRIES).encode())
        add_file(tar, "package/data/openmoji.csv", b"not needed")
        colour = SVGS if svgs is None else svgs
        for hexcode, svg in colour.items():
            add_file(tar, f"package/color/svg/{hexcode}.svg", svg.encode())
        for hexcode, svg in (colour if black is None else black).items():
            add_file(tar, f"package/black/svg/{hexcode}.svg", svg.encode())
        add_members(tar, extra or [])
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("XMODAL_CACHE", str(root))
    return root


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return make_tarball(tmp_path / "fake-openmoji.tgz")


@pytest.fixture
def extracted(tarball: Path) -> Path:
    return openmoji.fetch(tarball=tarball, expected_sha256=sha256_of(tarball))


# --- cache and fetch --------------------------------------------------------------------


def test_cache_dir_follows_environment(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert openmoji.cache_dir() == cache
    monkeypatch.delenv("XMODAL_CACHE")
    monkeypatch.setenv("HOME", "/home/someone")
    assert openmoji.cache_dir() == Path("/home/someone/.cache/xmodal")


def test_fetch_unpacks_only_metadata_and_svgs(cache: Path, tarball: Path) -> None:
    out = openmoji.fetch(tarball=tarball, expected_sha256=sha256_of(tarball))

    assert out == cache / "openmoji" / openmoji.VERSION / "extracted"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [".source-sha256", "data/openmoji.json"]
        + [f"{style}/svg/{h}.svg" for h in SVGS for style in ("color", "black")]
    )
    assert json.loads((out / "data" / "openmoji.json").read_text()) == ENTRIES
    # No staging folders are left behind next to the result.
    assert sorted(p.name for p in out.parent.iterdir()) == ["extracted"]


def test_fetch_is_idempotent(tarball: Path) -> None:
    digest = sha256_of(tarball)
    first = openmoji.fetch(tarball=tarball, expected_sha256=digest)
    marker = first / "data" / "openmoji.json"
    before = marker.stat().st_mtime_ns
    tarball.unlink()  # the second call must not even need the source

    assert openmoji.fetch(tarball=tarball, expected_sha256=digest) == first
    assert marker.stat().st_mtime_ns == before


def test_fetch_replaces_an_unpacking_of_a_different_source(tmp_path: Path) -> None:
    one = make_tarball(tmp_path / "one.tgz", svgs={"1F436": RED_DISC})
    two = make_tarball(tmp_path / "two.tgz")
    out = openmoji.fetch(tarball=one, expected_sha256=None)
    assert not (out / "color" / "svg" / "1F431.svg").exists()

    assert openmoji.fetch(tarball=two, expected_sha256=None) == out
    assert (out / "color" / "svg" / "1F431.svg").exists()


def test_fetch_unpacks_again_when_an_old_unpacking_lacks_the_line_art(tarball: Path) -> None:
    # Earlier versions unpacked only the colour drawings and wrote the bare checksum.
    digest = sha256_of(tarball)
    out = openmoji.fetch(tarball=tarball, expected_sha256=digest)
    shutil.rmtree(out / "black")
    (out / ".source-sha256").write_text(digest + "\n")

    assert openmoji.fetch(tarball=tarball, expected_sha256=digest) == out
    assert (out / "black" / "svg" / "1F436.svg").is_file()
    assert (out / ".source-sha256").read_text().split()[0] == digest


def test_fetch_accepts_a_package_without_line_art(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tgz"
    with tarfile.open(plain, "w:gz") as tar:
        add_file(tar, "package/data/openmoji.json", json.dumps(ENTRIES).encode())
        add_file(tar, "package/color/svg/1F436.svg", RED_DISC.encode())
    out = openmoji.fetch(tarball=plain, expected_sha256=None)
    assert not (out / "black").exists()


def test_fetch_rejects_wrong_checksum_and_keeps_callers_file(cache: Path, tarball: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(XmodalError) as err:
        openmoji.fetch(tarball=tarball, expected_sha256=wrong)

    assert wrong in str(err.value)
    assert sha256_of(tarball) in str(err.value)
    assert tarball.exists()
    assert not (cache / "openmoji" / openmoji.VERSION / "extracted").exists()


def test_fetch_deletes_a_cached_tarball_with_the_wrong_checksum(cache: Path, tarball: Path) -> None:
    # A fake tarball sitting where the pinned download belongs must fail the pinned checksum.
    cached = cache / "openmoji" / openmoji.VERSION / openmoji.TARBALL_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(tarball.read_bytes())

    with pytest.raises(XmodalError, match=openmoji.TARBALL_SHA256):
        openmoji.fetch()
    assert not cached.exists()


def test_fetch_runs_npm_pack_when_the_tarball_is_missing(
    cache: Path, tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_npm(tmp_path, tarball, openmoji.TARBALL_NAME, monkeypatch)

    out = openmoji.fetch(expected_sha256=sha256_of(tarball))

    assert log.read_text().split() == ["pack", f"openmoji@{openmoji.VERSION}", "--silent"]
    assert (cache / "openmoji" / openmoji.VERSION / openmoji.TARBALL_NAME).exists()
    assert (out / "data" / "openmoji.json").exists()


def test_fetch_explains_missing_npm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npm.shutil, "which", lambda _name: None)
    with pytest.raises(XmodalError, match=r"needs npm \(Node.js\).*apt-get install npm"):
        openmoji.fetch()


def test_fetch_rejects_a_file_that_is_not_a_tarball(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"this is not gzip")
    with pytest.raises(XmodalError, match="cannot unpack"):
        openmoji.fetch(tarball=junk, expected_sha256=None)


def test_fetch_rejects_a_tarball_without_openmoji_data(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz") as tar:
        add_file(tar, "package/README.md", b"hello")
    with pytest.raises(XmodalError, match="not an OpenMoji package"):
        openmoji.fetch(tarball=empty, expected_sha256=None)


@pytest.mark.parametrize(
    "bad",
    [
        tar_member("package/color/svg/../../../../escaped.svg"),
        tar_member("../escaped.svg"),
        tar_member("/tmp/escaped.svg"),
        tar_member("package/color/svg/1F600.svg", tarfile.SYMTYPE, "/etc/passwd"),
        tar_member("package/color/svg/1F600.svg", tarfile.LNKTYPE, "package/package.json"),
    ],
    ids=["dotdot-inside", "dotdot-top", "absolute", "symlink", "hardlink"],
)
def test_fetch_refuses_unsafe_members(cache: Path, tmp_path: Path, bad: tarfile.TarInfo) -> None:
    evil = make_tarball(tmp_path / "evil.tgz", extra=[bad])
    with pytest.raises(XmodalError, match="refusing to unpack"):
        openmoji.fetch(tarball=evil, expected_sha256=None)

    root = cache / "openmoji" / openmoji.VERSION
    assert not (root / "extracted").exists()
    assert list(root.iterdir()) == []  # the staging folder is cleaned up too
    assert not any(p.name == "escaped.svg" for p in tmp_path.rglob("*"))


# --- metadata ---------------------------------------------------------------------------


def test_load_emojis_leaves_out_skin_tones_by_default(extracted: Path) -> None:
    emojis = openmoji.load_emojis(extracted)

    assert [e.hexcode for e in emojis] == ["1F436", "1F431", "1F44B", "E000"]
    assert emojis[0] == Emoji(
        hexcode="1F436",
        emoji="🐶",
        annotation="dog face",
        tags=("dog", "face", "pet", "puppy"),
        group="animals-nature",
        subgroup="animal-mammal",
        skintone="",
        base_hexcode="1F436",
    )
    assert emojis[3].tags == ("goldfish", "fish")
    assert all(e.base_hexcode == e.hexcode for e in emojis)


def test_load_emojis_with_skin_tones(extracted: Path) -> None:
    emojis = openmoji.load_emojis(extracted, include_skin_tones=True)

    assert len(emojis) == 5
    variant = emojis[3]
    assert variant.hexcode == "1F44B-1F3FB"
    assert variant.skintone == "1"
    assert variant.base_hexcode == "1F44B"


def test_load_emojis_without_fetch_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(XmodalError, match="run fetch"):
        openmoji.load_emojis(tmp_path)


# --- rendering --------------------------------------------------------------------------


def test_rasterise_writes_rgba_pngs_and_sidecars(extracted: Path, tmp_path: Path) -> None:
    out = tmp_path / "images"
    emojis = openmoji.load_emojis(extracted)

    paths = openmoji.rasterise(emojis, extracted, out, size=48, progress=False)

    assert [p.relative_to(out).as_posix() for p in paths] == [
        "animals-nature/1F436-dog-face.png",
        "animals-nature/1F431-cat-face.png",
        "people-body/1F44B-waving-hand.png",
        "extras-openmoji/E000-womans-goldfish.png",
    ]
    with Image.open(paths[0]) as img:
        assert img.format == "PNG"
        assert img.size == (48, 48)
        assert img.mode == "RGBA"
        assert img.getpixel((0, 0)) == (0, 0, 0, 0)  # transparent outside the drawing
        assert img.getpixel((24, 24)) == (255, 0, 0, 255)
    with Image.open(paths[1]) as img:
        assert img.convert("RGBA").getpixel((24, 24)) == (0, 0, 255, 255)

    sidecar = json.loads(paths[0].with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar == {
        "caption": "dog face",
        "tags": ["dog", "face", "pet", "puppy"],
        "group": "animals-nature",
        "subgroup": "animal-mammal",
    }
    assert "CC BY-SA 4.0" in (out / "ATTRIBUTION.txt").read_text(encoding="utf-8")
    assert not list(out.rglob("*.tmp"))


def test_rasterise_without_sidecars(extracted: Path, tmp_path: Path) -> None:
    out = tmp_path / "images"
    paths = openmoji.rasterise(
        openmoji.load_emojis(extracted), extracted, out, size=16, sidecars=False, progress=False
    )
    assert len(paths) == 4
    assert not list(out.rglob("*.json"))


def test_rasterise_is_idempotent_but_redraws_other_sizes(
    extracted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "images"
    emojis = openmoji.load_emojis(extracted)
    first = openmoji.rasterise(emojis, extracted, out, size=32, progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in first}

    def must_not_render(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("an existing image was rendered again")

    with monkeypatch.context() as patch:
        patch.setattr(openmoji.resvg_py, "svg_to_bytes", must_not_render)
        again = openmoji.rasterise(emojis, extracted, out, size=32, progress=False)
    assert again == first
    assert {p: p.stat().st_mtime_ns for p in again} == stamps

    bigger = openmoji.rasterise(emojis, extracted, out, size=40, progress=False)
    with Image.open(bigger[0]) as img:
        assert img.size == (40, 40)


def test_rasterise_skips_an_svg_that_does_not_render(tmp_path: Path) -> None:
    broken = make_tarball(tmp_path / "broken.tgz", svgs={**SVGS, "1F431": "<svg this is not xml"})
    extracted = openmoji.fetch(tarball=broken, expected_sha256=None)
    out = tmp_path / "images"

    with pytest.warns(UserWarning, match="1F431"):
        paths = openmoji.rasterise(
            openmoji.load_emojis(extracted), extracted, out, size=16, progress=False
        )

    assert [p.name for p in paths] == [
        "1F436-dog-face.png",
        "1F44B-waving-hand.png",
        "E000-womans-goldfish.png",
    ]
    assert not list(out.rglob("1F431*"))


def test_rasterise_refuses_hexcodes_that_would_escape(extracted: Path, tmp_path: Path) -> None:
    sneaky = Emoji("../../x", "", "x", (), "g", "s", "", "../../x")
    with pytest.warns(UserWarning, match="bad hexcode"):
        assert openmoji.rasterise([sneaky], extracted, tmp_path / "out", progress=False) == []


def test_render_black_for_draws_the_line_art(tmp_path: Path) -> None:
    # Line art that differs from the colour drawing shows which one was rendered.
    lines = make_tarball(tmp_path / "lines.tgz", black={"1F436": BLUE_SQUARE})
    extracted = openmoji.fetch(tarball=lines, expected_sha256=None)
    emojis = openmoji.load_emojis(extracted)

    drawings = openmoji.render_black_for(
        emojis, tmp_path / "black", size=24, extracted=extracted, progress=False
    )

    assert [(d.emoji.hexcode, d.path.name) for d in drawings] == [("1F436", "1F436-dog-face.png")]
    with Image.open(drawings[0].path) as img:
        assert img.size == (24, 24) and img.mode == "RGBA"
        assert img.getpixel((12, 12)) == (0, 0, 255, 255)
    assert not list((tmp_path / "black").rglob("*.json"))
    attribution = (tmp_path / "black" / "ATTRIBUTION.txt").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in attribution and "black" in attribution


# --- sample -----------------------------------------------------------------------------


def test_build_sample_limit_spreads_over_groups(extracted: Path, tmp_path: Path) -> None:
    out = tmp_path / "sample"

    assert openmoji.build_sample(out, limit=3, size=16, progress=False, extracted=extracted) == out

    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert pngs == [
        "animals-nature/1F436-dog-face.png",
        "extras-openmoji/E000-womans-goldfish.png",
        "people-body/1F44B-waving-hand.png",
    ]
    assert sorted(p.name for p in (out / "notes").iterdir()) == [
        "animals-nature.md",
        "extras-openmoji.md",
        "people-body.md",
    ]


def test_build_sample_notes_describe_each_subgroup(extracted: Path, tmp_path: Path) -> None:
    out = openmoji.build_sample(tmp_path / "sample", progress=False, extracted=extracted)

    note = (out / "notes" / "animals-nature.md").read_text(encoding="utf-8")
    assert note.startswith("# Animals and nature\n")
    assert "The subgroup animal-mammal includes: dog face and cat face." in note
    people = (out / "notes" / "people-body.md").read_text(encoding="utf-8")
    assert "The subgroup hand-fingers-open includes: waving hand." in people
    assert "skin tone" not in people
    assert (out / "ATTRIBUTION.txt").exists()
    assert len(list(out.rglob("*.png"))) == 4


def test_build_sample_fetches_into_the_cache(
    cache: Path, tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seeding the cache with an unpacking marked as the pinned package stands in for npm.
    root = cache / "openmoji" / openmoji.VERSION
    fake = openmoji.fetch(tarball=tarball, expected_sha256=None)
    marker = fake / ".source-sha256"
    marker.write_text(marker.read_text().replace(sha256_of(tarball), openmoji.TARBALL_SHA256))
    monkeypatch.setattr(npm.shutil, "which", lambda _name: None)

    out = openmoji.build_sample(tmp_path / "sample", limit=1, size=16, progress=False)

    assert [p.name for p in out.rglob("*.png")] == ["1F436-dog-face.png"]
    assert fake == root / "extracted"


def test_spread_is_round_robin_in_package_order() -> None:
    def emoji(hexcode: str, group: str) -> Emoji:
        return Emoji(hexcode, "", hexcode, (), group, "", "", hexcode)

    items = [emoji("A1", "a"), emoji("A2", "a"), emoji("A3", "a"), emoji("B1", "b")]
    items.append(emoji("C1", "c"))
    picked = openmoji._spread(items, 4)
    assert [e.hexcode for e in picked] == ["A1", "B1", "C1", "A2"]
    assert openmoji._spread(items, None) == items
    assert openmoji._spread(items, 0) == []
