"""The API fuzzed from its own OpenAPI schema: whatever a client sends, no 5xx, and every
refusal is a JSON error."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serve_helpers import Served, app_client, build_collection

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: values a careless or hostile client sends
NASTY = st.sampled_from(
    [
        "",
        " ",
        "..",
        "../../etc/passwd",
        "%2e%2e%2f",
        "img:/etc/passwd",
        '"',
        "-",
        "+",
        "0",
        "-1",
        "1e309",
        "nan",
        "猫",
        "\x00",
        "*",
        "[",
        "2024-13-45",
        "9" * 30,
    ]
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return build_collection(tmp_path_factory.mktemp("serve-fuzz"))


@pytest.fixture(scope="module")
def client(served: Served) -> Any:
    with app_client(served) as c:
        yield c


def _value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values inside the schema and just outside it, and plain junk."""
    kinds = [t.get("type") for t in schema.get("anyOf", [schema])]
    options: list[st.SearchStrategy[Any]] = [NASTY, st.text(max_size=40)]
    if "integer" in kinds:
        options.append(st.integers(-10, 3000))
    if "array" in kinds:
        options.append(st.lists(st.one_of(NASTY, st.text(max_size=10)), max_size=3))
    return st.one_of(options)


def _operations(client: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [(path, ops["get"].get("parameters", [])) for path, ops in paths.items() if "get" in ops]


def _check(answer: Any) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert isinstance(answer.json()["error"], str)


def test_every_get_operation(client: Any, served: Served) -> None:
    operations = _operations(client)
    assert len(operations) >= 7
    ids = st.one_of(st.sampled_from(sorted(served.ids.values())), NASTY, st.text(max_size=20))

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        path, parameters = data.draw(st.sampled_from(operations))
        query: dict[str, Any] = {}
        for p in parameters:
            if p["in"] == "path":
                item_id = quote(data.draw(ids), safe="")
                path = path.replace("{" + p["name"] + "}", item_id or "x")
            elif data.draw(st.booleans()):
                query[p["name"]] = data.draw(_value(p["schema"]))
        _check(client.get(path, params=query))

    run()


def test_uploads(client: Any, served: Served) -> None:
    picture = (served.media / "pics" / "red_bicycle.png").read_bytes()
    bodies = st.one_of(
        st.binary(max_size=300),
        st.integers(0, len(picture)).map(lambda n: picture[:n]),
        st.tuples(st.integers(0, len(picture) - 1), st.integers(0, 255)).map(
            lambda t: picture[: t[0]] + bytes([t[1]]) + picture[t[0] + 1 :]
        ),
    )
    fields = st.dictionaries(
        st.sampled_from(["q", "k", "offset", "model", "type", "after", "before", "path"]),
        st.one_of(NASTY, st.text(max_size=20)),
        max_size=4,
    )

    @FUZZ
    @given(body=bodies, form=fields, name=st.one_of(NASTY, st.text(max_size=20)))
    def run(body: bytes, form: dict[str, str], name: str) -> None:
        _check(client.post("/api/search", files={"file": (name or "f", body)}, data=form))

    run()
