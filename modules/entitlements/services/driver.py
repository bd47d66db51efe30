"""The asyncpg connection under a unit of work's session, for the two hot paths (usage ingest,
entitlement check) where SQLAlchemy's per-statement overhead would dominate. Statements sent
here share the unit of work's connection and transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import text

from platform_core.core.errors import Conflict
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.db import driver_of


async def connection(uow: UnitOfWork, *, transactional: bool) -> Any:
    """The raw asyncpg connection. With `transactional`, make sure the unit of work's
    transaction has begun first (SQLAlchemy begins lazily, on its first statement), so raw
    writes commit or roll back with everything else."""
    driver = await driver_of(await uow.session.connection())
    if transactional and not driver.is_in_transaction():
        await uow.session.execute(text("SELECT 1"))
    return driver


@asynccontextmanager
async def translated_errors() -> AsyncIterator[None]:
    """Raw asyncpg errors as the problems SQLAlchemy's would have become (the kernel maps only
    SQLAlchemy's): concurrency failures and constraint violations are 409s, not 500s."""
    try:
        yield
    except asyncpg.PostgresError as exc:
        state = getattr(exc, "sqlstate", "") or ""
        if state in ("40001", "40P01"):
            raise Conflict("please retry the request", code="retry", title="Concurrent update") from exc
        if state.startswith("23"):
            raise Conflict(
                "the request conflicts with the current state of the resource", code="conflict"
            ) from exc
        raise
