"""Keel assembled against a database of the test's choosing (e.g. a private server it will
restart), the way tests/conftest.py assembles it against the shared one: the composition
root's runtime, the app, an in-process HTTP client, and an operator's token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from litestar import Litestar

from modules.composition import build_runtime
from modules.identity import api as identity_api
from platform_core.core.config import Settings
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE
from platform_core.http.app import create_app
from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import World, event


@dataclass
class KeelStack:
    runtime: Runtime
    app: Litestar
    client: httpx.AsyncClient
    headers: dict[str, str]  # an operator's bearer token


@asynccontextmanager
async def keel_stack(database_url: str, redis_url: str, data_dir: Path) -> AsyncIterator[KeelStack]:
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        token_pepper="test-pepper",
        data_dir=data_dir,
        outbox_sweep_seconds=0.5,
        job_tick_seconds=0.5,
    )
    runtime = build_runtime(settings)
    try:
        async with runtime.uow() as uow:
            person = await identity_api.create_person(uow, kind="individual", display_name="Operator")
            issued = await identity_api.issue_token(
                uow, person_id=person.id, name="operator", scopes=[PLATFORM_ADMIN_SCOPE, "*"]
            )
        app = create_app(runtime)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as client:
            yield KeelStack(runtime, app, client, {"Authorization": f"Bearer {issued.token}"})
    finally:
        await runtime.dispose()


Call = Callable[[], Awaitable[httpx.Response]]


async def hot_path_calls(stack: KeelStack) -> dict[str, Call]:
    """One request per hot path, for an organization whose workspace may use a key: `me`
    (token lookup through raw asyncpg, then an ORM read), `ingest` and `check`."""
    world = World(stack.client, stack.headers)
    key = await world.key()
    org, _pool, ws, _set = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 10**9}])
    client, headers = stack.client, stack.headers

    async def me() -> httpx.Response:
        return await client.get("/identity/me", headers=headers)

    async def ingest() -> httpx.Response:
        return await client.post(
            "/entitlements/usage-events",
            params={"org_id": org},
            json={"events": [event(ws, key, 1)]},
            headers=headers,
        )

    async def check() -> httpx.Response:
        return await client.get("/entitlements/check", params={"workspace": ws, "key": key}, headers=headers)

    return {"me": me, "ingest": ingest, "check": check}
