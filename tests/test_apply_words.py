"""Tags, policy flags, descriptions and more-like-this on a collection of short documents
(``minilm`` space), through Python and through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from awkward import xmodal, xmodal_json
from xmodal.apply import (
    describe,
    flag_collection,
    load_labels,
    parse_labels,
    parse_policy,
    similar,
    tag_collection,
)
from xmodal.apply.tagging import choose_tags, standardise
from xmodal.collection import Collection
from xmodal.errors import UsageError
from xmodal.query.filters import Filters

DOCS = {
    "cat1.txt": "My cat sleeps on the sofa all day and purrs.",
    "cat2.txt": "The kitten chased a mouse and meowed loudly.",
    "cat3.txt": "Our cat climbed the curtains and hissed at the neighbour's cat.",
    "dog1.txt": "Our dog loves to fetch the ball in the park and bark.",
    "dog2.txt": "The puppy wagged its tail and barked at the mailman.",
    "dog3.txt": "We walk the dog twice a day on a leash.",
    "car1.txt": "The car engine roared as we drove down the highway.",
    "car2.txt": "He parked his new sedan in the garage and washed the car.",
    "gun.txt": "He pulled a gun and fired three shots at the guards.",
    "knife.txt": "She stabbed him with a knife in the dark alley.",
    "cake.txt": "We baked bread and a chocolate cake for the birthday.",
    "near1.txt": "A quiet lake surrounded by pine trees at dawn.",
    "near2.txt": "A quiet lake surrounded by pine trees at dawn!",
}
LABELS = "cat\ndog\ncar | a car ; driving a vehicle\nfood\n"
POLICY = "# violence\nweapon: a gun ; a knife ; a weapon ; violence >= 0.3\n"


@pytest.fixture(scope="module")
def words(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("words")
    media = base / "media"
    media.mkdir()
    for name, text in DOCS.items():
        (media / name).write_text(text + "\n", encoding="utf-8")
    (base / "labels.txt").write_text(LABELS, encoding="utf-8")
    (base / "policy.txt").write_text(POLICY, encoding="utf-8")
    xmodal_json("index", media, "--db", base / "db", "--model", "minilm", "--json")
    return base


def _by_name(items: list[dict]) -> dict[str, dict]:
    return {Path(it["path"]).name: it for it in items}


def test_label_files() -> None:
    zh = parse_labels("# 标签\n猫\n狗 | 一只狗\n\n猫\n", "zh.txt")
    assert zh.labels == ("猫", "狗") and zh.prompts == (("猫",), ("一只狗",))
    assert "flags" in load_labels("openmoji-groups").labels
    assert "beach" in load_labels("photo").labels
    with pytest.raises(UsageError, match="no labels"):
        parse_labels("# nothing\n", "empty.txt")
    with pytest.raises(UsageError, match="no label file"):
        load_labels("/no/such/labels.txt")


def test_calibration_rule() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    # label 0 scores high on every item: raw argmax would tag everything with it
    raw = rng.normal(0, 0.01, (20, 3)) + np.array([0.5, 0.2, 0.2])
    raw[3, 1] += 0.2
    z = standardise(raw)
    assert choose_tags(z[3]) == [1]
    assert choose_tags(np.array([2.0, 1.5, 0.2]), cutoff=1.0, margin=0.75) == [0, 1]
    assert choose_tags(np.array([0.5, 0.2, 0.1]), cutoff=1.0) == []


def test_tag_cli_contract_and_search_filter(words: Path) -> None:
    db = words / "db"
    out = xmodal_json("tag", "--db", db, "--labels", words / "labels.txt", "--json")
    assert set(out) >= {"items"}
    assert all(set(it) == {"id", "path", "tags"} for it in out["items"])
    got = _by_name(out["items"])
    for name in ("cat1.txt", "cat2.txt", "cat3.txt"):
        assert got[name]["tags"][:1] == ["cat"], got[name]
    for name in ("dog1.txt", "dog2.txt", "dog3.txt"):
        assert got[name]["tags"][:1] == ["dog"], got[name]
    assert got["car1.txt"]["tags"][:1] == ["car"]
    assert got["cake.txt"]["tags"][:1] == ["food"]
    hits = xmodal_json("search", "an animal", "--db", db, "--tag", "dog", "--json")["results"]
    assert {Path(h["path"]).name for h in hits} == {"dog1.txt", "dog2.txt", "dog3.txt"}
    with Collection.open(db, create=False) as col:
        assert col.search("an animal", filters=Filters(tags=("zebra",))) == []


def test_tag_python_dry_run_stores_nothing(words: Path) -> None:
    with Collection.open(words / "db", create=False) as col:
        before = {it.id: it.metadata.get("tags") for it in col}
        report = tag_collection(col.store, parse_labels("car\ncake\n", "two"), save=False)
        assert {it.id: it.metadata.get("tags") for it in col} == before
    assert any(t.tags == ["car"] for t in report.items)


def test_flag_policy_and_exclude_flagged(words: Path) -> None:
    db = words / "db"
    out = xmodal_json("flag", "--db", db, "--policy", words / "policy.txt", "--json")
    flagged = {Path(it["path"]).name for it in out["items"]}
    assert flagged == {"gun.txt", "knife.txt"}
    assert all(it["details"][0]["segment"] == 0 for it in out["items"])
    hits = xmodal_json("search", "a person", "--db", db, "-k", "50", "--exclude-flagged", "--json")
    names = {Path(h["path"]).name for h in hits["results"]}
    assert names and not names & {"gun.txt", "knife.txt"}
    with Collection.open(db, create=False) as col:
        strict = parse_policy("weapon: a gun ; a knife >= 0.99\n")
        report = flag_collection(col.store, strict)
        assert not any(flags for _, flags in report.flagged.values())
        assert col.search("a person", k=50, filters=Filters(exclude_flagged=True))


def test_bad_policy_is_a_usage_error(words: Path) -> None:
    bad = words / "bad-policy.txt"
    bad.write_text("weapon a gun 0.3\n")
    done = xmodal("flag", "--db", words / "db", "--policy", bad)
    assert done.returncode == 2 and "NAME: WORDS >= THRESHOLD" in done.stderr
    with pytest.raises(UsageError):
        parse_policy("weapon: a gun >= nan\n")


def test_like(words: Path) -> None:
    db = words / "db"
    with Collection.open(db, create=False) as col:
        ids = {Path(p).name: i for p, i in col.ids().items()}
        plain = similar(col.store, ids["cat1.txt"], k=3)
        assert ids["cat1.txt"] not in {h.id for h in plain}
        assert Path(plain[0].path).name in {"cat2.txt", "cat3.txt"}
        only_dogs = similar(col.store, ids["cat1.txt"], k=3, filters=Filters(path_globs=("*dog*",)))
        assert {Path(h.path).name for h in only_dogs} == {"dog1.txt", "dog2.txt", "dog3.txt"}
        with pytest.raises(UsageError, match="no item"):
            similar(col.store, "nope")
    out = xmodal_json("search", "--like", ids["near1.txt"], "--db", db, "-k", "1", "--json")
    assert [Path(h["path"]).name for h in out["results"]] == ["near2.txt"]
    done = xmodal("search", "cat", "--like", ids["cat1.txt"], "--db", db)
    assert done.returncode == 2 and "--like" in done.stderr


def test_describe_names_its_sources(words: Path) -> None:
    db = words / "db"
    with Collection.open(db, create=False) as col:
        tag_collection(col.store, load_labels(str(words / "labels.txt")))
        ids = {Path(p).name: i for p, i in col.ids().items()}
        d = describe(col.store, ids["dog1.txt"])
    sources = [p.source for p in d.parts]
    assert sources[0] == "own words" and "tags" in sources and "similar items" in sources
    borrowed = next(p for p in d.parts if p.source == "similar items")
    assert borrowed.sources and ids["dog1.txt"] not in borrowed.sources
    out = xmodal_json("describe", ids["dog1.txt"], "--db", db, "--json")
    assert out["id"] == ids["dog1.txt"] and "tags: dog" in out["summary"]
    assert json.dumps(out)
