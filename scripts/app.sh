#!/usr/bin/env bash
# Set up (first run only) and start the app on http://127.0.0.1:8501 with ./workspace (or $CURATION_WORKSPACE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamlit run app.py "$@"
