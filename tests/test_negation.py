"""Negation in words and query expansion: parsed into negative terms, acted on in every space."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from awkward import xmodal_json
from xmodal.collection import Collection
from xmodal.query.negation import demote, parse_natural, split_negation
from xmodal.records import Modality, SearchHit

DOCS = {
    "cat_plain.txt": "A grey cat sleeps on the sofa in the afternoon sun.",
    "cat_glasses.txt": "A grey cat wearing round glasses sleeps on the sofa.",
    "cat_garden.txt": "A ginger cat hunts in the garden near the fence.",
    "cat_glasses2.txt": "A cat with glasses reads a newspaper on the sofa.",
    "dog.txt": "A brown dog runs on the beach chasing a ball.",
    "car_red.txt": "一辆红色的车停在路边。",
    "car_blue.txt": "一辆蓝色的车停在路边。",
}


@pytest.mark.parametrize(
    ("text", "positive", "negatives"),
    [
        ("a cat without glasses", "a cat", ("glasses",)),
        ("cat but not glasses", "cat", ("glasses",)),
        ("a red shape that is not a square", "a red shape", ("square",)),
        ("a red circle and no blue shapes", "a red circle", ("blue shapes",)),
        ("a dog without a ball or a stick", "a dog", ("ball", "stick")),
        ("不要红色的车", "车", ("红色",)),
        ("没有眼镜的猫", "猫", ("眼镜",)),
        ("猫，不要眼镜", "猫", ("眼镜",)),
    ],
)
def test_split_negation(text: str, positive: str, negatives: tuple[str, ...]) -> None:
    neg = split_negation(text)
    assert neg is not None
    assert (neg.positive, neg.negatives) == (positive, negatives)


def test_plain_and_mixed_queries_are_left_alone() -> None:
    assert split_negation("red bicycle") is None
    assert split_negation('"beach" - "people without hats"') is None
    q = parse_natural("a cat without glasses")
    assert [(t.value, t.weight > 0) for t in q.terms] == [("a cat", True), ("glasses", False)]


def test_demote_keeps_order_within_groups() -> None:
    hits = [
        SearchHit(str(i), f"/{i}", 1.0 - i / 10, Modality.TEXT, text=t)
        for i, t in enumerate(["cat in glasses", "cat", "glass cat", "a cat sleeping"])
    ]
    assert [h.id for h in demote(hits, ["glasses"])] == ["1", "3", "0", "2"]


@pytest.fixture(scope="module")
def docs_col(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collection]:
    """One collection for the module, indexed and searched in this process (the encoder is
    loaded once); the CLI tests read the same folder."""
    root = tmp_path_factory.mktemp("neg")
    (root / "docs").mkdir()
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    with Collection.open(root / "db") as col:
        col.index([root / "docs"], models=["minilm", "bm25"])
        yield col


def _names(hits: Sequence[SearchHit | dict[str, object]]) -> list[str]:
    return [Path(str(h["path"] if isinstance(h, dict) else h.path)).name for h in hits]


def _unmentioned_first(names: list[str]) -> None:
    cats = [n for n in names if n.startswith("cat")]
    assert set(cats[:2]) == {"cat_plain.txt", "cat_garden.txt"}, names


def test_negated_query_ranks_unmentioned_first_cli(docs_col: Collection) -> None:
    out = xmodal_json("search", "a cat without glasses", "--db", docs_col.root, "-k", "5", "--json")
    _unmentioned_first(_names(out["results"]))


def test_negated_query_ranks_unmentioned_first_python(docs_col: Collection) -> None:
    _unmentioned_first(_names(docs_col.search("cat but not glasses", k=5)))


def test_chinese_negation(docs_col: Collection) -> None:
    names = _names(docs_col.search("不要红色的车", k=7))
    assert names.index("car_blue.txt") < names.index("car_red.txt")


def test_expand_from_python(docs_col: Collection) -> None:
    plain = docs_col.search("sofa", k=3)
    expanded = docs_col.search("sofa", k=3, expand=True)
    every = docs_col.search("cat dog car sofa beach", k=10)
    assert expanded and {h.id for h in expanded} <= {h.id for h in every}
    assert plain[0].id in {h.id for h in expanded}


def test_expand_from_cli(docs_col: Collection) -> None:
    out = xmodal_json(
        "search", "ginger cat", "--db", docs_col.root, "-k", "3", "--expand", "--json"
    )
    assert _names(out["results"])[0] == "cat_garden.txt"
