"""What a new user meets first: help with no arguments, downloads not blocked by the CLI."""

from __future__ import annotations

from awkward import xmodal


def test_bare_command_prints_help() -> None:
    proc = xmodal()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: xmodal")
    for command in ("index", "search", "models"):
        assert command in proc.stdout
