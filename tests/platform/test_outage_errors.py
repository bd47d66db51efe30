"""An outage of a dependency answers 503 problem+json with Retry-After, never 500: PostgreSQL
down (connection refused), shutting down (57P03 cannot_connect_now), a pool with no connection
free in time, and Redis down or frozen where a route needs it. A 500 stays a bug.

The database cases run Keel against a private server the test stops and starts; the pool and
Redis cases run the kernel's exception handlers on a small app whose routes use a real engine
and a real Redis client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio
from litestar import Litestar, get
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import text

from migrations import KEEL_MIGRATIONS
from platform_core.core.errors import EXCEPTION_HANDLERS
from platform_core.http.fast_lane import FastLane
from platform_core.persistence.db import asyncpg_dsn, create_engine
from platform_core.runtime.module import FastRequest
from tests.support.keel_stack import KeelStack, hot_path_calls, keel_stack
from tests.support.pg_server import PgServer, available, free_port, pg_server
from tests.support.redis_server import RedisServer, redis_server
from tests.support.redis_server import available as redis_available

needs_pg = pytest.mark.skipif(not available(), reason="needs PostgreSQL 15's server binaries")


def assert_outage_answer(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"].isdigit()
    body = response.json()
    assert (body["status"], body["code"]) == (503, "service_unavailable")


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    if not available():
        pytest.skip("needs PostgreSQL 15's server binaries")
    with pg_server() as private:
        KEEL_MIGRATIONS.upgrade(private.url)
        yield private


@pytest.fixture
async def stack(server: PgServer, redis_url: str, tmp_path: Path) -> AsyncIterator[KeelStack]:
    async with keel_stack(server.url, redis_url, tmp_path) as running:
        yield running


async def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert condition()


@needs_pg
async def test_a_database_that_is_down_answers_503_then_recovers(stack: KeelStack, server: PgServer) -> None:
    paths = await hot_path_calls(stack)
    for call in paths.values():
        assert (await call()).status_code == 200
    caches = stack.runtime.caches
    await asyncio.to_thread(server.stop, "immediate")
    try:
        # the check's fast lane answers from the caches only while they listen for changes
        await wait_for(lambda: not caches.coherent)
        for call in paths.values():
            assert_outage_answer(await call())  # connection refused
        organizations = await stack.client.get("/organizations", headers=stack.headers)
        assert_outage_answer(organizations)  # the ORM path too
    finally:
        await asyncio.to_thread(server.start)
    for kind, call in paths.items():
        assert (await call()).status_code == 200, kind


@needs_pg
async def test_a_database_shutting_down_answers_503(stack: KeelStack, server: PgServer) -> None:
    paths = await hot_path_calls(stack)
    holder = await asyncpg.connect(asyncpg_dsn(server.url))  # keeps a smart shutdown pending
    try:
        await asyncio.to_thread(server.stop, "smart", wait=False)
        await stack.runtime.engine.dispose()  # so that requests need new connections
        with pytest.raises(asyncpg.CannotConnectNowError):
            await asyncpg.connect(asyncpg_dsn(server.url))
        for call in paths.values():
            assert_outage_answer(await call())  # 57P03 the database system is shutting down
    finally:
        await holder.close()
        await asyncio.to_thread(server.stop, "fast")  # the caches' listener holds a session too
        await asyncio.to_thread(server.start)
    for kind, call in paths.items():
        assert (await call()).status_code == 200, kind


@needs_pg
async def test_the_fast_lane_hands_any_failure_to_the_full_route(
    stack: KeelStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = (await hot_path_calls(stack))["check"]
    answered = (await check()).json()  # now the token and the row are cached
    lane: Any = stack.app.asgi_handler
    while not isinstance(lane, FastLane):  # under whatever wraps it (request ids, tracing)
        lane = lane.app

    tried: list[FastRequest] = []

    async def failing(request: FastRequest) -> bytes:
        tried.append(request)
        raise ConnectionResetError("whatever the lane met")

    monkeypatch.setitem(lane.routes, "/entitlements/check", failing)
    response = await check()
    assert tried  # the lane took the request
    assert response.status_code == 200  # answered by the full route
    assert response.json() == answered


def app_with(*handlers: Any) -> httpx.AsyncClient:
    app = Litestar(route_handlers=list(handlers), exception_handlers=EXCEPTION_HANDLERS)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://keel.test")


@needs_pg
async def test_a_pool_with_no_free_connection_answers_503(server: PgServer) -> None:
    engine = create_engine(server.url, pool_size=1, max_overflow=0, pool_timeout=0.2)

    @get("/db")
    async def read() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT 1"))).scalar_one())

    try:
        async with app_with(read) as client:
            assert (await client.get("/db")).status_code == 200
            async with engine.connect():  # the only connection, held
                assert_outage_answer(await client.get("/db"))
            assert (await client.get("/db")).status_code == 200
    finally:
        await engine.dispose()


def redis_client(port: int) -> redis.asyncio.Redis:
    """One attempt with a short timeout (redis-py otherwise retries with backoff for seconds)."""
    return redis.asyncio.Redis(
        port=port, socket_timeout=0.3, socket_connect_timeout=0.3, retry=Retry(NoBackoff(), 0)
    )


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    if not redis_available():
        pytest.skip("needs the redis-server binary")
    with redis_server() as private:
        yield private


async def test_redis_down_or_frozen_answers_503_where_a_route_needs_it(private_redis: RedisServer) -> None:
    private = private_redis
    live, gone = redis_client(private.port), redis_client(free_port())

    @get("/live")
    async def ping_live() -> bool:
        return bool(await live.ping())

    @get("/gone")
    async def ping_gone() -> bool:
        return bool(await gone.ping())

    try:
        async with app_with(ping_live, ping_gone) as client:
            assert (await client.get("/live")).status_code == 200
            assert_outage_answer(await client.get("/gone"))  # connection refused
            private.freeze()  # accepts connections, answers nothing
            assert_outage_answer(await client.get("/live"))  # timeout
            private.thaw()
            await live.connection_pool.disconnect()
            assert (await client.get("/live")).status_code == 200
    finally:
        await live.aclose()
        await gone.aclose()


async def test_a_bug_is_still_a_500() -> None:
    @get("/bug")
    async def bug() -> None:
        Path("/nonexistent/keel").read_text()

    async with app_with(bug) as client:
        response = await client.get("/bug")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
