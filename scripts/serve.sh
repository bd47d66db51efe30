#!/usr/bin/env bash
# Set everything up and run Keel: the API on http://127.0.0.1:8000 plus an in-process worker.
# Without DATABASE_URL / REDIS_URL it runs embedded PostgreSQL and Redis, data under .keel/.
# Arguments go to `keel serve` (e.g. --host 0.0.0.0 --port 9000). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/uv.sh
source scripts/lib/uv.sh
ensure_uv
uv sync --frozen
exec uv run --frozen --no-sync keel serve "$@"
