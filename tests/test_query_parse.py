from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmodal.errors import QuerySyntaxError
from xmodal.query.parse import Query, Term, parse_query


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("red bicycle", [("text", "red bicycle", 1.0)]),
        ("  red   bicycle ", [("text", "red bicycle", 1.0)]),
        ("t-shirt", [("text", "t-shirt", 1.0)]),
        ("-5 degrees", [("text", "-5 degrees", 1.0)]),
        ("beach - people", [("text", "beach", 1.0), ("text", "people", -1.0)]),
        (
            '"beach" + 0.5*img:sunset.jpg - "people"',
            [("text", "beach", 1.0), ("image", "sunset.jpg", 0.5), ("text", "people", -1.0)],
        ),
        (
            'img:"my photo.jpg" - "blurry"',
            [("image", "my photo.jpg", 1.0), ("text", "blurry", -1.0)],
        ),
        ('2*"cat" + 1e-1 * "hat"', [("text", "cat", 2.0), ("text", "hat", 0.1)]),
        ('"a \\"quoted\\" word"', [("text", 'a "quoted" word', 1.0)]),
        ("IMAGE:x.png", [("image", "x.png", 1.0)]),
        ('"猫" + "dog"', [("text", "猫", 1.0), ("text", "dog", 1.0)]),
    ],
)
def test_examples(text: str, terms: list[tuple[str, str, float]]) -> None:
    q = parse_query(text)
    assert [(t.kind, t.value, t.weight) for t in q.terms] == terms


@pytest.mark.parametrize(
    "text",
    ["", "   ", '"unclosed', "- people", 'a "b"', "img:", '"a" "b"', '"   "', "a + ", "0*cat"],
)
def test_errors(text: str) -> None:
    with pytest.raises(QuerySyntaxError):
        parse_query(text)


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() != "")
_weight = st.floats(min_value=0.001, max_value=1000, allow_nan=False, allow_infinity=False)
_term = st.builds(
    Term,
    kind=st.sampled_from(["text", "image"]),
    value=_text,
    weight=st.tuples(_weight, st.sampled_from([1.0, -1.0])).map(lambda p: p[0] * p[1]),
)
_query = (
    st.lists(_term, min_size=1, max_size=5)
    .filter(lambda ts: any(t.weight > 0 for t in ts))
    .map(lambda ts: Query(tuple(ts)))
)


@settings(max_examples=300)
@given(_query)
def test_render_parse_round_trip(q: Query) -> None:
    assert parse_query(q.render()) == q


@settings(max_examples=500)
@given(st.text(max_size=60))
def test_arbitrary_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        q = parse_query(text)
    except QuerySyntaxError as e:
        assert "\n" not in str(e)
        return
    assert q.terms
    assert any(t.weight > 0 for t in q.terms)
    for t in q.terms:
        assert t.value.strip() if t.kind == "text" else t.value
