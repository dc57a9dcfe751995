#!/usr/bin/env bash
# Create .venv, install xmodal with its development tools, then lint, type-check and run the
# whole test suite. pytest exits non-zero when it collects no test, so an empty run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# System tools some tests use: espeak-ng speaks the audio tests' sentences, sox makes test
# recordings, chromium runs the browser tests. Where one cannot be installed, the tests that
# need it skip and say why.
missing=()
for tool in espeak-ng sox chromium; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    { $SUDO apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } \
        >/dev/null 2>&1 || echo "could not install ${missing[*]}; tests that need them skip" >&2
fi
python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e '.[dev,audio,video,milvus,ray]'
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/pytest -q "$@"
