"""Database primitives shared by every module: one MetaData naming convention, the declarative
base, the async engine and session factory, and URL helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import DateTime, MetaData, event, func
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

METADATA = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base for every module's tables; each table sets its own `schema`."""

    metadata = METADATA
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Timestamped:
    """created_at / updated_at columns; `updated_at` is maintained by a database trigger
    (see `platform_core.persistence.migration_helpers.add_updated_at_trigger`)."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


def sqlalchemy_url(url: str) -> str:
    """Normalise any PostgreSQL URL to the asyncpg dialect SQLAlchemy needs."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def asyncpg_dsn(url: str) -> str:
    """The same URL in the plain form asyncpg.connect() accepts."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+asyncpg://") :]


def create_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    """The async engine. Its pool never hands out a connection the server has closed (see
    `_refuse_closed`), so after a database restart requests recover without anyone calling
    `/ready` or restarting the process."""
    kwargs.setdefault("max_overflow", pool_size)
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        pool_pre_ping=False,  # a round trip per checkout; `_refuse_closed` costs no I/O
        **kwargs,
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout hook: replace a connection asyncpg already knows is closed.

    The hot paths talk to asyncpg directly (`driver_of`), so when the server goes away under
    them SQLAlchemy never sees the error and would check the dead connection back in and hand
    it out forever. asyncpg marks a connection closed as soon as its socket reports the loss
    (a restart closes every socket at once), so reading that flag here is enough: raising
    DisconnectionError makes the pool discard the connection and open a fresh one."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database closed this connection")


def create_sessionmaker(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """`info` is copied into every session's `.info` (the runtime puts its hot caches there)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info or {})


async def driver_of(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `conn`, for hot paths where SQLAlchemy's per-statement and
    per-row overhead would dominate. Statements sent through it share `conn`'s transaction."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    return driver
