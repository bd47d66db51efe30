"""Reads on the authentication path, which every authenticated request takes.

They go to the driver (asyncpg) directly, on the request's own session and connection: a
single indexed lookup costs less than SQLAlchemy's statement execution around it (measured in
bench/auth.py). Anything that writes goes through the session as usual."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from platform_core.persistence.db import driver_of


async def fetch_row(session: AsyncSession, sql: str, *args: Any) -> Any:
    """One row (an asyncpg Record: `row["column"]`) or None. Inside the session's transaction
    if it already began one; otherwise as a single-statement read before it begins."""
    driver = await driver_of(await session.connection())  # checks a connection out if needed
    return await driver.fetchrow(sql, *args)
