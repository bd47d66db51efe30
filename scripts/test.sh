#!/usr/bin/env bash
# Set everything up and run Keel's whole check suite: lint, format, types, import contracts, tests.
# PostgreSQL and Redis: KEEL_TEST_DATABASE_URL / KEEL_TEST_REDIS_URL when set, else the servers on
# 127.0.0.1:5432 / 127.0.0.1:6379 when they answer, else embedded ones started under .keel/ for
# this run and stopped afterwards. Arguments go to pytest (e.g. -x -q tests/e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/uv.sh
source scripts/lib/uv.sh
ensure_uv
uv sync --frozen
uv run --frozen ruff check .
uv run --frozen ruff format --check .
uv run --frozen mypy platform_core modules
uv run --frozen lint-imports --config importlinter.ini --no-cache

stop_test_services() {
  local rc=$?
  uv run --frozen --no-sync python scripts/test_services.py down || echo "warning: test services not stopped" >&2
  exit "$rc"  # pytest's own exit code (5 = no tests ran) is the script's
}
trap stop_test_services EXIT
mkdir -p .keel
uv run --frozen --no-sync python scripts/test_services.py up > .keel/test-services.env
# shellcheck disable=SC1091
source .keel/test-services.env
uv run --frozen --no-sync pytest "$@"
