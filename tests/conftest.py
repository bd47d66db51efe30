"""Shared fixtures: a fresh, migrated PostgreSQL database and a Redis database per test run,
the assembled runtime and app, and an HTTP client. Everything is real; nothing is mocked.

Variables: KEEL_TEST_DATABASE_URL (a server URL; the database name is replaced by a fresh
`keel_test_<suffix>`), KEEL_TEST_REDIS_URL, KEEL_TEST_SUFFIX (to run several suites at once)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
import redis
from litestar import Litestar

from migrations import KEEL_MIGRATIONS as migrate
from modules.composition import build_runtime
from modules.identity import api as identity_api
from platform_core.core.config import Settings
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE
from platform_core.http.app import create_app
from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.runtime import Runtime

SERVER_URL = os.environ.get("KEEL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KEEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SUFFIX = os.environ.get("KEEL_TEST_SUFFIX", "main")
TEST_DB = f"keel_test_{SUFFIX}"
# providers the inbound webhook tests sign for: Stripe's scheme, and a Standard Webhooks one
INBOUND_WEBHOOK_SECRETS = (
    "stripe=whsec_test_stripe_secret,acme=whsec_dGVzdC1hY21lLXNpZ25pbmcta2V5LTMyYnl0ZXM="
)


def database_url(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


async def recreate_database(name: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(SERVER_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def db_url() -> str:
    asyncio.run(recreate_database(TEST_DB))
    url = database_url(TEST_DB)
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


@pytest.fixture(scope="session")
def settings(db_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=db_url,
        redis_url=redis_url,
        token_pepper="test-pepper",
        data_dir=Path(tmp_path_factory.mktemp("keel")),
        outbox_sweep_seconds=0.5,
        job_tick_seconds=0.5,
        inbound_webhook_secrets=INBOUND_WEBHOOK_SECRETS,
        outbox_lease_seconds=60,
    )


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    await rt.dispose()


@pytest.fixture(scope="session")
def app(runtime: Runtime) -> Litestar:
    return create_app(runtime)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in the test's own event loop (the engine's loop)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as c:
        yield c


@pytest.fixture(scope="session")
async def admin_token(runtime: Runtime) -> str:
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Test Operator")
        issued = await identity_api.issue_token(
            uow, person_id=person.id, name="test-admin", scopes=[PLATFORM_ADMIN_SCOPE, "*"]
        )
    return issued.token


@pytest.fixture
def admin_headers(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


def decode(body: bytes) -> object:
    return msgspec.json.decode(body)
