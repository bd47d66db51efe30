"""Alembic environment: async (asyncpg), all schemas in one history."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import platform_core.messaging.idempotency_keys
import platform_core.messaging.scheduler  # noqa: F401  (they register platform.idempotency_keys, platform.scheduled_jobs)
from modules.composition import MODULES
from platform_core.persistence.db import METADATA, sqlalchemy_url

# the kernel's own schema, then each module's, from the composition root
KEEL_SCHEMAS = ("platform", *(module.schema for module in MODULES))

for _module in MODULES:
    # tables are registered on the shared METADATA by importing each module's models
    with contextlib.suppress(ModuleNotFoundError):
        importlib.import_module(f"modules.{_module.name}.models")

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set DATABASE_URL (or use `keel migrate`, which starts the embedded database)")
    return sqlalchemy_url(url)


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "schema":
        return name in KEEL_SCHEMAS
    return True


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        include_schemas=True,
        include_name=_include_name,
        version_table_schema="public",
        compare_type=True,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=METADATA, literal_binds=True, include_schemas=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
