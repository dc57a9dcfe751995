#!/usr/bin/env bash
# Create .venv, install xmodal with its development tools, then lint, type-check and run the
# whole test suite. pytest exits non-zero when it collects no test, so an empty run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# speech for the audio tests, and sox for making test recordings by hand
if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then
    apt-get update -q && apt-get install -y -q espeak-ng sox
fi
python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e '.[dev,audio,video]'
# the browser tests drive Debian's chromium; where it cannot be installed they skip, saying so
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } \
        >/dev/null 2>&1 || echo "chromium could not be installed; the browser tests will skip" >&2
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/pytest -q "$@"
