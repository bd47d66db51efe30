#!/usr/bin/env bash
# Set everything up and run Keel's whole check suite: lint, format, types, import contracts, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
uv sync --frozen
uv run ruff check .
uv run ruff format --check .
uv run mypy platform_core modules
uv run lint-imports --config importlinter.ini --no-cache
uv run pytest "$@"
