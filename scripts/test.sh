#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite, browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
if ! command -v chromium >/dev/null 2>&1; then
  # Browser tests drive Debian's chromium (never a browser downloaded by playwright).
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed: browser tests will be skipped (apt-get install chromium)" >&2
  fi
fi
# Linters gate the tests: style and imports everywhere (ruff; it also bans streamlit inside curation/), types in
# curation/ (mypy, configured in pyproject.toml). A violation stops the run before any test.
echo "lint: ruff check" >&2
.venv/bin/ruff check .
echo "lint: mypy curation" >&2
.venv/bin/mypy
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# One pytest worker per core (pytest-xdist; at most 4: each may hold a model, a Ray cluster and an app server), each
# with its share of the torch threads (tests/conftest.py). CURATION_TEST_WORKERS=0, or -n 0, runs in one process.
cores=$(nproc 2>/dev/null || echo 2)
workers=${CURATION_TEST_WORKERS:-$(( cores < 4 ? cores : 4 ))}
exec .venv/bin/python -m pytest -n "$workers" "$@"
