"""The asyncpg connection under a unit of work's session, for the two hot paths (usage ingest,
entitlement check) where SQLAlchemy's per-statement overhead would dominate. Statements sent
here share the unit of work's connection and transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from platform_core.uow import UnitOfWork


async def connection(uow: UnitOfWork, *, transactional: bool) -> Any:
    """The raw asyncpg connection. With `transactional`, make sure the unit of work's
    transaction has begun first (SQLAlchemy begins lazily, on its first statement), so raw
    writes commit or roll back with everything else."""
    conn = await uow.session.connection()
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if transactional and not driver.is_in_transaction():
        await uow.session.execute(text("SELECT 1"))
    return driver
