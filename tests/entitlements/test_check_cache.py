"""The entitlement check served from the hot caches stays exact: the fast lane answers the same
JSON as the full route; writes committed in this process show on the next check; writes from
another process arrive by NOTIFY; inputs the full route refuses are still refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from modules.composition import build_runtime
from modules.identity import api as identity_api
from platform_core.core.config import Settings
from platform_core.http.app import create_app
from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import World, event, ok


def lookups(runtime: Runtime, cache: str) -> tuple[int, int]:
    _, hits, misses = runtime.caches.stats().get(cache, (0, 0, 0))
    return hits, misses


@pytest.fixture
async def other_process(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A second runtime and app on the same database: another API process."""
    runtime = build_runtime(settings)
    transport = httpx.ASGITransport(app=create_app(runtime), client=("127.0.0.1", 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://other.test") as client:
        yield runtime, client
    await runtime.dispose()


async def until_listening(runtime: Runtime) -> None:
    for _ in range(100):
        if runtime.caches.coherent:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the hot cache listener did not connect")


async def test_fast_and_full_answers_are_identical(world: World, runtime: Runtime) -> None:
    org, _, ws, _ = await world.setup(
        [{"resource_key": (key := await world.key()), "rule_type": "limit", "amount": 7}]
    )
    await ok(await world.usage(org, [event(ws, key, 2)]))
    await until_listening(runtime)
    params = {"workspace": ws, "key": key, "quantity": "3"}
    runtime.caches.clear()
    full = await world.client.get("/entitlements/check", params=params, headers=world.headers)  # fills caches
    hits_before = lookups(runtime, "entitlements.check")[0]
    fast = await world.client.get("/entitlements/check", params=params, headers=world.headers)
    assert lookups(runtime, "entitlements.check")[0] > hits_before  # answered from the cache
    assert (full.status_code, fast.status_code) == (200, 200)
    assert fast.json() == full.json()
    assert fast.headers["content-type"] == full.headers["content-type"]
    assert fast.json()["used"] == "2"


async def test_ingest_in_this_process_shows_on_the_next_check(world: World, runtime: Runtime) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 10}])
    await until_listening(runtime)
    assert (await world.check(ws, key))["used"] == "0"
    for quantity, used in ((1, "1"), (2, "3"), (4, "7")):
        await ok(await world.usage(org, [event(ws, key, quantity)]))
        assert (await world.check(ws, key))["used"] == used  # no wait: invalidated at commit


async def eventually(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(150):  # a NOTIFY arrives within milliseconds
        if await probe():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


async def test_writes_in_another_process_reach_this_one(
    world: World, runtime: Runtime, other_process: tuple[Runtime, httpx.AsyncClient]
) -> None:
    other_runtime, other = other_process
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 10}])
    await until_listening(runtime)
    assert (await world.check(ws, key))["used"] == "0"
    assert (await world.check(ws, key))["used"] == "0"  # now cached here
    r = await other.post(
        "/entitlements/usage-events", params={"org_id": org}, json={"events": [event(ws, key, 4)]},
        headers=world.headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text

    async def used_is_4() -> bool:
        return (await world.check(ws, key))["used"] == "4"

    await eventually(used_is_4, "the other process's ingest never reached this process's cache")

    # a token revoked here stops working there
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Roaming")
        issued = await identity_api.issue_token(uow, person_id=person.id, name="roaming", scopes=["*"])
    headers = {"Authorization": f"Bearer {issued.token}"}
    await until_listening(other_runtime)
    for _ in range(2):  # the second answer comes from the other process's cache
        assert (await other.get("/identity/me", headers=headers)).status_code == 200
    async with runtime.uow() as uow:
        await identity_api.revoke_token(uow, person_id=person.id, token_id=issued.id)

    async def refused_there() -> bool:
        return (await other.get("/identity/me", headers=headers)).status_code == 401

    await eventually(refused_there, "a token revoked in one process still worked in another")


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"quantity": "-1"}, 400),
        ({"quantity": "1e99"}, 400),
        ({"workspace": "not-a-uuid"}, 400),
        ({"key": ""}, 400),
    ],
)
async def test_inputs_the_full_route_refuses_are_refused(
    world: World, runtime: Runtime, params: dict[str, str], status: int
) -> None:
    key = await world.key()
    _, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 10}])
    await until_listening(runtime)
    await world.check(ws, key)  # cached, so only the input decides
    r = await world.client.get(
        "/entitlements/check", params={"workspace": ws, "key": key, **params}, headers=world.headers
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
