"""Where `Idempotency-Key`s live (platform.idempotency_keys), how long they count, and the job
that forgets them. The HTTP side that claims and replays them is platform_core.http.idempotency."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Column, DateTime, Integer, LargeBinary, Table, Text, func, text

from platform_core.messaging.scheduler import batched_job
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.db import METADATA

IDEMPOTENCY_KEYS = Table(
    "idempotency_keys",
    METADATA,
    Column("owner", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("request_hash", LargeBinary, nullable=False),
    Column("status_code", Integer),
    Column("response_body", LargeBinary),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False, index=True),
    schema="platform",
)

KEY_TTL = timedelta(hours=24)  # as Stripe: a key older than this is forgotten and may be used afresh

PURGE_BATCH = 5000
_PURGE = text(
    """DELETE FROM platform.idempotency_keys
        WHERE (owner, key) IN (
              SELECT owner, key FROM platform.idempotency_keys
               WHERE created_at < now() - CAST(:ttl AS interval)
               ORDER BY created_at LIMIT :batch
                 FOR UPDATE SKIP LOCKED)"""
)


async def purge_expired_keys(uow: UnitOfWork) -> int:
    """Delete up to `PURGE_BATCH` keys past their TTL (they are already ignored by
    `idempotent`; this only keeps the table small)."""
    result = await uow.session.execute(_PURGE, {"ttl": KEY_TTL, "batch": PURGE_BATCH})
    deleted: int = result.rowcount  # type: ignore[attr-defined]
    return deleted


PURGE_EXPIRED_KEYS = batched_job(
    "platform.purge_idempotency_keys",
    timedelta(hours=1),
    purge_expired_keys,
    PURGE_BATCH,
    summary="purged {} expired idempotency key(s)",
    description=f"Delete Idempotency-Key records older than {KEY_TTL.total_seconds() / 3600:g} hours.",
)
