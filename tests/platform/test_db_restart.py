"""Keel recovers by itself when PostgreSQL restarts under it, idle or under load: after at
most a few failing requests every request succeeds again, with no process restart and no
`/ready` call, and the failures are 503 problem+json with Retry-After, never 500.

The requests cover the raw asyncpg paths that used to hand dead connections back to the pool
(personal access token lookup, usage ingest, the entitlement check) and an ORM read. The
server is a private one (tests/support/pg_server.py), crashed with `pg_ctl stop -m immediate`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from migrations import KEEL_MIGRATIONS
from platform_core.persistence.db import asyncpg_dsn
from tests.support.keel_stack import Call, KeelStack, hot_path_calls, keel_stack
from tests.support.pg_server import PgServer, available, pg_server

pytestmark = pytest.mark.skipif(not available(), reason="needs PostgreSQL 15's server binaries")

FEW = 3  # failing requests tolerated once the server is back (in-flight ones may still fail)


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    with pg_server() as private:
        KEEL_MIGRATIONS.upgrade(private.url)
        yield private


@pytest.fixture
async def stack(server: PgServer, redis_url: str, tmp_path: Path) -> AsyncIterator[KeelStack]:
    async with keel_stack(server.url, redis_url, tmp_path) as running:
        yield running


@dataclass(frozen=True)
class Outcome:
    kind: str
    started: float
    finished: float
    status: int
    content_type: str
    retry_after: str | None
    code: str | None


async def attempt(kind: str, call: Call) -> Outcome:
    started = time.monotonic()
    response = await call()
    code = None
    if response.status_code >= 400 and response.headers.get("content-type", "").endswith("json"):
        code = response.json().get("code")
    return Outcome(
        kind,
        started,
        time.monotonic(),
        response.status_code,
        response.headers.get("content-type", ""),
        response.headers.get("retry-after"),
        code,
    )


def assert_failures_are_outage_answers(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        if outcome.status < 400:
            continue
        assert outcome.status == 503, outcome
        assert outcome.content_type == "application/problem+json", outcome
        assert outcome.code == "service_unavailable", outcome
        assert outcome.retry_after is not None, outcome
        assert outcome.retry_after.isdigit(), outcome


def assert_recovered(outcomes: list[Outcome]) -> None:
    """Failures only among the first FEW requests; every later one succeeded."""
    ordered = sorted(outcomes, key=lambda o: o.started)
    failed = [i for i, o in enumerate(ordered) if o.status >= 400]
    assert all(i < FEW for i in failed), [o for o in ordered if o.status >= 400]
    assert len(ordered) > 3 * FEW  # enough requests afterwards to mean something


async def assert_caches_listen_again(stack: KeelStack, server: PgServer, fill: Call) -> None:
    """The hot caches' LISTEN connection came back: another process's NOTIFY empties them."""
    caches = stack.runtime.caches
    deadline = time.monotonic() + 15
    while not caches.coherent and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert caches.coherent, "the invalidation listener did not reconnect"
    assert (await fill()).status_code == 200  # (re)connecting empties them: fill them again
    assert any(entries for entries, _hits, _misses in caches.stats().values())
    other = await asyncpg.connect(asyncpg_dsn(server.url))
    try:
        await other.execute("SELECT pg_notify('keel_cache', '*')")
    finally:
        await other.close()
    while any(entries for entries, _, _ in caches.stats().values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not any(entries for entries, _, _ in caches.stats().values()), "NOTIFY not heard"


async def test_recovers_after_a_restart_while_idle(stack: KeelStack, server: PgServer) -> None:
    paths = await hot_path_calls(stack)
    for _ in range(3):  # warm: pooled connections and cached credentials and checks
        for kind, call in paths.items():
            assert (await attempt(kind, call)).status == 200, kind

    await asyncio.to_thread(server.restart, "immediate")

    after = [await attempt(kind, call) for _ in range(10) for kind, call in paths.items()]
    assert_failures_are_outage_answers(after)
    assert_recovered(after)
    await assert_caches_listen_again(stack, server, paths["check"])


# Checks alone take only raw asyncpg paths (token lookup, the check's row): no statement that
# SQLAlchemy executes meets a dead connection and invalidates the pool on their behalf.
@pytest.mark.parametrize("mix", [("me", "ingest", "check"), ("check",)], ids=["mixed", "checks-only"])
async def test_recovers_after_a_crash_under_load(
    stack: KeelStack, server: PgServer, mix: tuple[str, ...]
) -> None:
    paths = {kind: call for kind, call in (await hot_path_calls(stack)).items() if kind in mix}
    outcomes: list[Outcome] = []
    stop = asyncio.Event()

    async def client_loop(kind: str, call: Call) -> None:
        while not stop.is_set():
            outcome = await attempt(kind, call)
            outcomes.append(outcome)
            # a check answered from the hot cache never suspends: yield as a network would
            await asyncio.sleep(0.05 if outcome.status >= 400 else 0)

    loops = [
        asyncio.create_task(client_loop(kind, call)) for kind, call in [*paths.items()] * (6 // len(mix))
    ]
    await asyncio.sleep(1.0)
    crashed_at = time.monotonic()
    await asyncio.to_thread(server.restart, "immediate")
    back_at = time.monotonic()
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*loops)

    before = [o for o in outcomes if o.finished < crashed_at]
    assert before
    assert all(o.status == 200 for o in before)
    assert_failures_are_outage_answers(outcomes)
    assert any(o.status == 503 for o in outcomes if o.started < back_at), "the outage was not exercised"
    assert_recovered([o for o in outcomes if o.started >= back_at])
    for kind, call in paths.items():  # and afterwards, one by one
        assert (await attempt(kind, call)).status == 200, kind
    await assert_caches_listen_again(stack, server, paths["check"])
