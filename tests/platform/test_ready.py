"""GET /ready answers whether this process can serve: 200 while the database answers, whatever
the broker does (reported in the body only), 503 problem+json when the database does not.
Every check is bounded by its timeout, so a frozen dependency cannot hang the probe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from platform_core.core.config import Settings
from tests.platform.test_http_errors import assert_problem
from tests.support.pg_server import free_port
from tests.support.redis_server import RedisServer, available, redis_server
from tests.support.serving import serving

CHECK_SECONDS = 0.3


def nothing_listens() -> str:
    return f"127.0.0.1:{free_port()}"  # the probe socket is closed again: connections are refused


async def get_ready(client: httpx.AsyncClient) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    async with asyncio.timeout(10):
        r = await client.get("/ready")
    return r, time.monotonic() - started


async def test_ready_when_database_and_broker_answer(client: httpx.AsyncClient) -> None:
    r = await client.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


async def test_a_refused_broker_keeps_the_process_ready(settings: Settings) -> None:
    refused = msgspec.structs.replace(settings, redis_url=f"redis://{nothing_listens()}/0")
    async with serving(refused) as app:
        r, _ = await get_ready(app.client)
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ready", "checks": {"database": "ok", "broker": "down"}}
        assert (await app.client.get("/health")).status_code == 200


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    if not available():
        pytest.skip("needs the redis-server binary")
    with redis_server() as server:
        yield server


async def test_a_frozen_broker_keeps_the_process_ready_within_the_check_timeout(
    settings: Settings, private_redis: RedisServer
) -> None:
    configured = msgspec.structs.replace(
        settings, redis_url=private_redis.url, ready_check_timeout_seconds=CHECK_SECONDS
    )
    async with serving(configured) as app:
        assert (await app.client.get("/ready")).json()["checks"]["broker"] == "ok"
        private_redis.freeze()
        try:
            r, elapsed = await get_ready(app.client)
        finally:
            private_redis.thaw()
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "broker": "down"}
    assert elapsed < CHECK_SECONDS + 0.7, f"/ready took {elapsed:.2f}s with a {CHECK_SECONDS}s check timeout"


async def test_an_unreachable_database_makes_the_process_unready(settings: Settings) -> None:
    down = msgspec.structs.replace(
        settings,
        database_url=f"postgresql://postgres@{nothing_listens()}/keel",
        ready_check_timeout_seconds=2,
    )
    async with serving(down) as app:
        r, _ = await get_ready(app.client)
        body = assert_problem(r, 503, "not_ready")
        assert body["checks"] == {"database": "down", "broker": "ok"}
        assert int(r.headers["retry-after"]) >= 1
        assert (await app.client.get("/health")).status_code == 200
