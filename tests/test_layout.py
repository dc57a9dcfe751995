"""The shape of the code, checked: small modules, short functions, imports only downward.

A function may run past the limit when the comment right above it starts with ``# long:`` and
says why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "xmodal"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

#: the shared base every layer may use; it imports no other part of xmodal
BASE = {
    "records", "errors", "progress", "paths", "hashing", "atomic", "jsonsafe", "closing",
}  # fmt: skip
#: what each lower layer must never import (by top-level part of ``xmodal``)
APPLICATION = {"collection", "catalogue", "cli", "serve", "apply", "demo", "info", "watch"}
FORBIDDEN: dict[str, set[str]] = {
    "media": APPLICATION | {"encoders", "store", "index", "ingest", "spaces", "query", "learn",
                            "eval"},
    "store": APPLICATION | {"encoders", "ingest", "spaces", "query", "learn", "eval"},
    "index": APPLICATION | {"encoders", "ingest", "spaces", "learn", "eval"},
    "encoders": APPLICATION | {"ingest", "spaces", "learn", "eval"},
    "query": APPLICATION | {"ingest", "learn", "eval"},
    "ingest": APPLICATION | {"learn", "eval"},
    "spaces": APPLICATION | {"learn", "eval"},
    "learn": APPLICATION - {"catalogue"},
    "eval": APPLICATION - {"collection", "catalogue"},
}  # fmt: skip


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "models" not in p.relative_to(SRC).parts[:1])


def _part(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imported_parts(tree: ast.AST) -> set[str]:
    parts: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "xmodal":
                names += [f"xmodal.{a.name}" for a in node.names]
        for name in names:
            bits = name.split(".")
            if bits[0] == "xmodal" and len(bits) > 1:
                parts.add(bits[1])
    return parts


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_is_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(SRC)} has {lines} lines"


def test_functions_are_short() -> None:
    long: list[str] = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            said_why = first >= 2 and lines[first - 2].strip().startswith("# long:")
            if size > MAX_FUNCTION_LINES and not said_why:
                long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({size} lines)")
    assert not long, "functions over the limit with no `# long:` reason:\n" + "\n".join(long)


def test_imports_go_only_downward() -> None:
    wrong: list[str] = []
    for path in _modules():
        part = _part(path)
        used = _imported_parts(ast.parse(path.read_text(encoding="utf-8"))) - {part}
        bad = used - BASE if part in BASE else used & FORBIDDEN.get(part, set())
        if part != "cli":
            bad |= used & {"cli"}
        wrong += [f"{path.relative_to(SRC)} imports xmodal.{b}" for b in sorted(bad)]
    assert not wrong, "\n".join(wrong)


def test_encoder_registry_imports_only_the_base() -> None:
    tree = ast.parse((SRC / "encoders" / "registry.py").read_text(encoding="utf-8"))
    modules = {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    } | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in modules if m.startswith("xmodal")}
    allowed = {"xmodal.encoders.base"} | {f"xmodal.{b}" for b in BASE}
    assert ours <= allowed, ours - allowed
