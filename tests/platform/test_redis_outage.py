"""A slow or frozen Redis never delays an answer: committed writes answer at once (their nudge
is given up after its timeout and the workers' sweep delivers later), a failed nudge logs one
line, and the rate limiter answers within its timeout, failing open or closed as configured.
Each test runs its own redis-server and freezes (SIGSTOP) or kills it; never the shared one."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator

import httpx
import msgspec
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from platform_core.auth.rate_limit import RateLimiter, RateLimitUnavailable
from platform_core.core.config import Settings
from platform_core.runtime.worker import start_worker
from tests.organization.helpers import assert_problem, role_id
from tests.support.redis_server import RedisServer, available, redis_server
from tests.support.serving import serving

pytestmark = pytest.mark.skipif(not available(), reason="needs the redis-server binary")

FAST_SECONDS = 1.0  # "at once": a committed write with a frozen Redis answers well within this
POLL_SECONDS = 15


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def on(settings: Settings, server: RedisServer, **overrides: object) -> Settings:
    return msgspec.structs.replace(settings, redis_url=server.url, **overrides)


async def create_person(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, float]:
    """POST a person (its event is captured for audit, which requests a drain) and time it."""
    started = time.monotonic()
    async with asyncio.timeout(10):  # without a bound a blocked nudge would hang the test
        r = await client.post(
            "/identity/persons",
            json={"kind": "individual", "display_name": f"Frozen {uuid.uuid4().hex[:6]}"},
            headers=headers,
        )
    elapsed = time.monotonic() - started
    assert r.status_code == 201, r.text
    return str(r.json()["id"]), elapsed


async def audited(client: httpx.AsyncClient, headers: dict[str, str], person_id: str) -> bool:
    r = await client.get("/audit/logs", params={"target_id": person_id}, headers=headers)
    assert r.status_code == 200, r.text
    return any(item["action"] == "identity.person.created" for item in r.json()["items"])


async def test_committed_writes_answer_at_once_with_redis_frozen_and_the_sweep_delivers_later(
    settings: Settings,
    private_redis: RedisServer,
    admin_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving(on(settings, private_redis)) as app:
        await create_person(app.client, admin_headers)  # warm: pools and prepared statements
        private_redis.freeze()
        caplog.clear()  # only this app's nudges from here on
        people = []
        for _ in range(3):
            person_id, elapsed = await create_person(app.client, admin_headers)
            assert elapsed < FAST_SECONDS, f"a committed write took {elapsed:.2f}s with Redis frozen"
            people.append(person_id)
        async with app.runtime.engine.connect() as conn:  # committed, not just answered
            found = await conn.execute(
                text("SELECT count(*) FROM identity.persons WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": people},
            )
            assert found.scalar_one() == 3
        await asyncio.sleep(3 * app.runtime.settings.nudge_timeout_seconds)  # let the nudges give up

        nudge_lines = [r for r in caplog.records if r.name == "platform_core.messaging.nudges"]
        assert len(nudge_lines) == 1, [r.getMessage() for r in nudge_lines]
        assert nudge_lines[0].levelno == logging.WARNING
        assert nudge_lines[0].exc_info is None
        assert "periodic sweep" in nudge_lines[0].getMessage()

        # a killed Redis loses every nudge it held: only the workers' sweep can deliver now
        private_redis.kill()
        private_redis.start()
        worker = start_worker(app.runtime, threads=1)
        try:
            deadline = time.monotonic() + POLL_SECONDS
            for person_id in people:
                while not await audited(app.client, admin_headers, person_id):
                    assert time.monotonic() < deadline, "the sweep did not deliver the audit events"
                    await asyncio.sleep(0.2)
        finally:
            worker.stop()


async def test_the_rate_limiter_answers_within_its_timeout_when_redis_is_frozen(
    private_redis: RedisServer,
) -> None:
    client = Redis.from_url(private_redis.url)
    try:
        await client.ping()
        private_redis.freeze()
        open_limiter = RateLimiter(client, timeout_seconds=0.2, fail_open=True)
        started = time.monotonic()
        decision = await open_limiter.hit("frozen", 1)
        assert time.monotonic() - started < 0.6
        assert decision.allowed
        assert decision.count == 0

        closed_limiter = RateLimiter(client, timeout_seconds=0.2, fail_open=False)
        started = time.monotonic()
        with pytest.raises(RateLimitUnavailable) as refused:
            await closed_limiter.hit("frozen", 1)
        assert time.monotonic() - started < 0.6
        assert refused.value.status == 503
        assert int(refused.value.headers["Retry-After"]) >= 1
    finally:
        private_redis.thaw()
        await client.aclose()


async def rate_limited_key(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """An organization and a service-account key (admin role) that carries a rate limit."""
    r = await client.post(
        "/organizations", json={"slug": f"rl-{uuid.uuid4().hex[:10]}", "name": "Limited"}, headers=headers
    )
    assert r.status_code == 201, r.text
    org_id = r.json()["id"]
    r = await client.post(f"/orgs/{org_id}/service-accounts", json={"name": "bot"}, headers=headers)
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    r = await client.post(
        f"/orgs/{org_id}/role-assignments",
        json={
            "principal_type": "service_account",
            "principal_id": account_id,
            "role_id": await role_id(client, org_id, headers, "admin"),
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/orgs/{org_id}/service-accounts/{account_id}/keys",
        json={"name": "ci", "rate_limit_per_min": 1000},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return org_id, {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.mark.parametrize("fail_open", [True, False], ids=["fail-open", "fail-closed"])
async def test_a_rate_limited_request_with_redis_frozen_fails_open_or_closed_as_configured(
    settings: Settings, private_redis: RedisServer, admin_headers: dict[str, str], fail_open: bool
) -> None:
    configured = on(settings, private_redis, rate_limit_fail_open=fail_open, rate_limit_timeout_seconds=0.2)
    async with serving(configured) as app:
        org_id, key_headers = await rate_limited_key(app.client, admin_headers)
        url = f"/organizations/{org_id}"
        assert (await app.client.get(url, headers=key_headers)).status_code == 200
        private_redis.freeze()
        started = time.monotonic()
        async with asyncio.timeout(10):
            r = await app.client.get(url, headers=key_headers)
        assert time.monotonic() - started < FAST_SECONDS
        if fail_open:
            assert r.status_code == 200, r.text
        else:
            assert_problem(r, 503, "rate_limit_unavailable")
            assert int(r.headers["retry-after"]) >= 1
        private_redis.thaw()
