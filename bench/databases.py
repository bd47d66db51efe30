"""Where a benchmark writes: `DATABASE_URL` when set (migrated to head, synthetic data added),
else its own database on the local server, dropped and created afresh each run."""

from __future__ import annotations

import asyncio
import os

import asyncpg

from migrations import KEEL_MIGRATIONS as migrate
from platform_core.persistence.db import asyncpg_dsn

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def database_url(default_db: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    base, _, _ = DEFAULT_SERVER.rpartition("/")
    return f"{base}/{default_db}"


async def prepare_database(default_db: str) -> None:
    """Migrate `DATABASE_URL`, or recreate `default_db` and migrate it."""
    if not os.environ.get("DATABASE_URL"):
        conn = await asyncpg.connect(asyncpg_dsn(DEFAULT_SERVER))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{default_db}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{default_db}"')
        finally:
            await conn.close()
    await asyncio.to_thread(migrate.upgrade, database_url(default_db))
