"""The words of the scenes benchmark: what a query means, how it reads, which queries
there are; every judgement is computed from the drawn parameters, never from the pixels."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xmodal.eval.benchmarks.scenes.drawing import CELLS, SHAPES, SIZES, Attrs, Level, Scene, Shape

Spec = dict[str, Any]

POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "centre": "in the centre",
}
RELATIONS = ("left of", "right of", "above", "below")
_INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
_NUMBERS = ("zero", "one", "two", "three", "four", "five")


def matches(attrs: Mapping[str, str], shape: Shape) -> bool:
    """Whether ``shape`` has every attribute in ``attrs`` (an empty description fits all)."""
    mine = shape.attrs()
    return all(mine[k] == v for k, v in attrs.items())


def relation_holds(relation: str, a: Shape, b: Shape) -> bool:
    (ca, ra), (cb, rb) = CELLS[a.position], CELLS[b.position]
    if relation == "left of":
        return ca < cb
    if relation == "right of":
        return ca > cb
    if relation == "above":
        return ra < rb
    if relation == "below":
        return ra > rb
    raise ValueError(f"unknown relation {relation!r}")


def relevant(spec: Mapping[str, Any], shapes: Sequence[Shape]) -> bool:
    """Whether a picture with ``shapes`` satisfies a query's structured form."""
    kind = spec["type"]
    if kind == "attribute":
        return any(matches(spec["attrs"], s) for s in shapes)
    if kind == "count":
        return sum(matches(spec["attrs"], s) for s in shapes) == spec["count"]
    if kind == "relation":
        return any(
            matches(spec["a"], a)
            and matches(spec["b"], b)
            and relation_holds(spec["relation"], a, b)
            for a, b in itertools.permutations(shapes, 2)
        )
    if kind == "negated_attribute":
        return any(matches(spec["attrs"], s) and not matches(spec["not"], s) for s in shapes)
    if kind == "absent":
        return any(matches(spec["attrs"], s) for s in shapes) and not any(
            matches(spec["absent"], s) for s in shapes
        )
    raise ValueError(f"unknown query type {kind!r}")


def describe(attrs: Mapping[str, str]) -> str:
    """ "a small red circle", "a red shape", "a triangle"."""
    words = [attrs[k] for k in ("size", "colour") if k in attrs]
    words.append(attrs.get("shape", "shape"))
    article = "an" if words[0][0] in "aeiou" else "a"
    return " ".join([article, *words])


def _plural(attrs: Mapping[str, str], count: int) -> str:
    words = [attrs[k] for k in ("size", "colour") if k in attrs]
    noun = attrs.get("shape", "shape")
    words.append(noun if count == 1 else noun + "s")
    return " ".join(words)


def query_text(spec: Mapping[str, Any]) -> str:
    kind = spec["type"]
    if kind == "attribute":
        return describe(spec["attrs"])
    if kind == "count":
        return f"{_NUMBERS[spec['count']]} {_plural(spec['attrs'], spec['count'])}"
    if kind == "relation":
        return f"{describe(spec['a'])} {spec['relation']} {describe(spec['b'])}"
    if kind == "negated_attribute":
        negated = spec["not"]
        if "colour" in negated:
            what = negated["colour"]
        elif "shape" in negated:
            what = describe({"shape": negated["shape"]})
        else:
            what = negated["size"]
        return f"{describe(spec['attrs'])} that is not {what}"
    if kind == "absent":
        return f"{describe(spec['attrs'])} and no {_plural(spec['absent'], 2)}"
    raise ValueError(f"unknown query type {kind!r}")


def caption(shapes: Sequence[Shape]) -> str:
    """The picture's description, generated from the same parameters that drew it."""
    if len(shapes) == 1:
        s = shapes[0]
        return f"{describe(s.attrs())} {POSITION_PHRASES[s.position]}"
    if len(shapes) == 2:
        a, b = shapes
        relation = next(r for r in RELATIONS if relation_holds(r, a, b))
        return f"{describe(a.attrs())} {relation} {describe(b.attrs())}"
    parts = [f"{describe(s.attrs())} {POSITION_PHRASES[s.position]}" for s in shapes]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def judge(spec: Spec, scenes: Sequence[Scene]) -> dict[str, int]:
    return {s.image: 1 for s in scenes if relevant(spec, s.shapes)}


def _cap(specs: list[Spec], limit: int, rng: random.Random) -> list[Spec]:
    if len(specs) <= limit:
        return specs
    keep = sorted(rng.sample(range(len(specs)), limit))
    return [specs[i] for i in keep]


def _with_relevant(specs: Iterable[Spec], scenes: Sequence[Scene]) -> list[Spec]:
    return [s for s in specs if any(relevant(s, sc.shapes) for sc in scenes)]


def _attribute_specs(level: Level) -> list[Spec]:
    specs: list[Spec] = []
    for colour in level.colours:
        specs.append({"type": "attribute", "attrs": {"colour": colour}})
        for shape in SHAPES:
            specs.append({"type": "attribute", "attrs": {"colour": colour, "shape": shape}})
            for size in SIZES:
                attrs = {"size": size, "colour": colour, "shape": shape}
                specs.append({"type": "attribute", "attrs": attrs})
    for size in SIZES:
        for shape in SHAPES:
            specs.append({"type": "attribute", "attrs": {"size": size, "shape": shape}})
    return specs


def _counting_specs(level: Level) -> list[Spec]:
    described: list[Attrs] = [{}]
    described += [{"shape": shape} for shape in SHAPES]
    described += [{"colour": colour} for colour in level.colours]
    return [
        {"type": "count", "attrs": attrs, "count": n}
        for attrs in described
        for n in range(1, level.max_shapes + 1)
    ]


def _negation_specs(level: Level) -> list[Spec]:
    specs: list[Spec] = []
    for shape in SHAPES:
        for colour in level.colours:
            specs.append(
                {"type": "negated_attribute", "attrs": {"shape": shape}, "not": {"colour": colour}}
            )
            specs.append(
                {"type": "negated_attribute", "attrs": {"colour": colour}, "not": {"shape": shape}}
            )
    for shape in SHAPES:
        for colour in level.colours:
            attrs = {"colour": colour, "shape": shape}
            for other in level.colours:
                if other != colour:
                    specs.append({"type": "absent", "attrs": attrs, "absent": {"colour": other}})
            for other in SHAPES:
                if other != shape:
                    specs.append({"type": "absent", "attrs": attrs, "absent": {"shape": other}})
    return specs


def _relation_specs(scenes: Sequence[Scene], limit: int, rng: random.Random) -> list[Spec]:
    # Drawn from pairs that occur, so that each has an answer; a relation and its mirror
    # image ("A left of B", "B right of A") ask the same thing and are kept once.
    pairs = [(a, b) for s in scenes for a, b in itertools.permutations(s.shapes, 2)]
    rng.shuffle(pairs)
    seen: set[str] = set()
    specs: list[Spec] = []
    for a, b in pairs:
        if len(specs) >= limit:
            break
        relation = rng.choice([r for r in RELATIONS if relation_holds(r, a, b)])
        da = {k: v for k, v in a.attrs().items() if k != "size" or rng.random() < 0.5}
        db = {k: v for k, v in b.attrs().items() if k != "size" or rng.random() < 0.5}
        key = json.dumps([da, relation, db], sort_keys=True)
        mirror = json.dumps([db, _INVERSE[relation], da], sort_keys=True)
        if key in seen or mirror in seen:
            continue
        seen.add(key)
        specs.append({"type": "relation", "a": da, "relation": relation, "b": db})
    return specs


def text_task_specs(
    scenes: Sequence[Scene], level: Level, limit: int, sampler: random.Random
) -> list[tuple[str, str, list[Spec]]]:
    """Each text task's name, description and queries (at most ``limit``, sampled with
    ``sampler`` in this order, so the same scenes give the same queries)."""
    return [
        (
            "t2i-attribute",
            "shape, colour and size words → pictures with such a shape",
            _cap(_with_relevant(_attribute_specs(level), scenes), limit, sampler),
        ),
        (
            "t2i-compositional",
            "two described shapes in a spatial relation → pictures with such a pair",
            _relation_specs(scenes, limit, sampler),
        ),
        (
            "t2i-negation",
            "'a circle that is not red', 'a red circle and no blue shapes'",
            _cap(_with_relevant(_negation_specs(level), scenes), limit, sampler),
        ),
        (
            "t2i-counting",
            "'two circles', 'three shapes': pictures with exactly that many",
            _cap(_with_relevant(_counting_specs(level), scenes), limit, sampler),
        ),
    ]
