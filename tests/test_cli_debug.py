"""``--debug`` and ``XMODAL_DEBUG=1``: a failing command still prints its one-line reason and
exits 2, and in debug mode the traceback of the underlying cause comes before it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, debug_env: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XMODAL_DEBUG"}
    if debug_env:
        env["XMODAL_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "xmodal.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def corrupt(tmp_path: Path) -> str:
    """A collection folder whose database is not SQLite: the store's error hides the cause."""
    (tmp_path / "xmodal.db").write_bytes(bytes(range(256)) * 16)
    return str(tmp_path)


def test_error_is_one_line_without_debug(corrupt: str) -> None:
    done = _run("ids", "--db", corrupt, "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("xmodal: error: ")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_adds_the_traceback_of_the_cause(corrupt: str, how: str) -> None:
    plain = _run("ids", "--db", corrupt, "--json")
    if how == "flag":
        done = _run("--debug", "ids", "--db", corrupt, "--json")
    else:
        done = _run("ids", "--db", corrupt, "--json", debug_env=True)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert "Traceback (most recent call last):" in lines
    assert any(line.startswith("sqlite3.DatabaseError") for line in lines), done.stderr
    assert any(line.startswith("xmodal.errors.UsageError") for line in lines), done.stderr
    # the one line a user sees without --debug is still there, and last
    assert lines[-1] == plain.stderr.rstrip("\n")
