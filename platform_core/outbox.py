"""The generic transactional-outbox relay.

A relay drains one outbox table in three short transactions per batch:

1. **claim** — `FOR UPDATE SKIP LOCKED` picks up to `batch_size` due rows (pending, failed and
   due again, or in flight with an expired lease), marks them `in_flight` with a lease and this
   worker's claim token, bumps `attempts`, and commits at once: no broker or network call ever
   happens while claim locks are held.
2. **deliver** — a new transaction re-locks the rows still owned by the token (a row whose
   lease expired and was re-claimed by another worker is skipped), hands them to the module's
   handler, then deletes them or marks them `delivered`, and commits: delivery and completion
   are one atomic step for database sinks.
3. **isolate** — if the batch fails, every row is retried alone; a row that still fails is set
   `failed` with exponential backoff and jitter, or `dead` after `max_attempts`, so one poison
   event never blocks the others.

A worker killed after step 1 leaves its rows `in_flight`; once the lease expires any worker
claims them again.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

OutboxRow = RowMapping
BatchHandler = Callable[[AsyncConnection, Sequence[OutboxRow]], Awaitable[None]]

OUTBOX_STATUSES = ("pending", "in_flight", "delivered", "failed", "dead")


@dataclass(frozen=True)
class OutboxRelaySpec:
    """How one module's outbox is drained. `table` is schema-qualified and must have the
    columns created by `platform_core.migration_helpers.outbox_columns`."""

    name: str
    table: str
    handler: BatchHandler
    delete_on_success: bool = True
    batch_size: int | None = None
    queue_name: str = "default"


@dataclass(frozen=True)
class RelayTuning:
    batch_size: int = 500
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 3600.0


@dataclass
class DrainStats:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    batches: int = 0


def backoff_seconds(attempts: int, tuning: RelayTuning) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base * 2**(n-1))]."""
    ceiling = min(tuning.backoff_cap_seconds, tuning.backoff_base_seconds * 2 ** max(0, attempts - 1))
    return random.uniform(min(ceiling, tuning.backoff_base_seconds / 2), ceiling)


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, spec: OutboxRelaySpec, tuning: RelayTuning) -> None:
        self.engine = engine
        self.spec = spec
        self.tuning = tuning
        self.batch_size = spec.batch_size or tuning.batch_size
        table = spec.table
        self._claim_sql = text(
            f"""
            UPDATE {table} AS o
               SET status = 'in_flight', attempts = o.attempts + 1, claimed_by = :token,
                   lease_expires_at = now() + :lease
             WHERE o.id IN (
                   SELECT id FROM {table}
                    WHERE (status IN ('pending', 'failed') AND next_attempt_at <= now())
                       OR (status = 'in_flight' AND lease_expires_at < now())
                    ORDER BY id
                    LIMIT :limit
                    FOR UPDATE SKIP LOCKED)
            RETURNING o.id, o.attempts
            """
        )
        self._lock_owned_sql = text(
            f"""SELECT * FROM {table}
                 WHERE id = ANY(:ids) AND claimed_by = :token AND status = 'in_flight'
                 ORDER BY id FOR UPDATE"""
        )
        if spec.delete_on_success:
            self._complete_sql = text(f"DELETE FROM {table} WHERE id = ANY(:ids)")
        else:
            self._complete_sql = text(
                f"""UPDATE {table} SET status = 'delivered', delivered_at = now(),
                           claimed_by = NULL, lease_expires_at = NULL, last_error = NULL
                     WHERE id = ANY(:ids)"""
            )
        self._fail_sql = text(
            f"""UPDATE {table}
                   SET status = CASE WHEN attempts >= :max_attempts THEN 'dead' ELSE 'failed' END,
                       next_attempt_at = now() + :delay, last_error = :error,
                       claimed_by = NULL, lease_expires_at = NULL
                 WHERE id = :id AND claimed_by = :token
             RETURNING status"""
        )
        self._bury_sql = text(
            f"""UPDATE {table} SET status = 'dead', claimed_by = NULL, lease_expires_at = NULL,
                       last_error = coalesce(last_error, 'lease expired too often')
                 WHERE id = ANY(:ids)"""
        )

    async def claim(self, token: uuid.UUID) -> list[uuid.UUID]:
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    self._claim_sql,
                    {"token": token, "lease": self.tuning.lease, "limit": self.batch_size},
                )
            ).all()
            exhausted = [r.id for r in rows if r.attempts > self.tuning.max_attempts]
            if exhausted:
                await conn.execute(self._bury_sql, {"ids": exhausted})
        return [r.id for r in rows if r.attempts <= self.tuning.max_attempts]

    async def _deliver(self, ids: Sequence[uuid.UUID], token: uuid.UUID) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(self._lock_owned_sql, {"ids": list(ids), "token": token})
            owned = result.mappings().all()
            if owned:
                await self.spec.handler(conn, owned)
                await conn.execute(self._complete_sql, {"ids": [r["id"] for r in owned]})
            return len(owned)

    async def _record_failure(self, row_id: uuid.UUID, token: uuid.UUID, error: BaseException) -> str | None:
        async with self.engine.begin() as conn:
            attempts = (
                await conn.execute(
                    text(f"SELECT attempts FROM {self.spec.table} WHERE id = :id"), {"id": row_id}
                )
            ).scalar_one_or_none()
            if attempts is None:
                return None
            delay = timedelta(seconds=backoff_seconds(attempts, self.tuning))
            return (
                await conn.execute(
                    self._fail_sql,
                    {
                        "id": row_id,
                        "token": token,
                        "max_attempts": self.tuning.max_attempts,
                        "delay": delay,
                        "error": f"{type(error).__name__}: {error}"[:2000],
                    },
                )
            ).scalar_one_or_none()

    async def process_batch(self, token: uuid.UUID | None = None) -> DrainStats:
        """Claim one batch and deliver it; returns what happened."""
        token = token or uuid.uuid4()
        stats = DrainStats()
        ids = await self.claim(token)
        stats.claimed = len(ids)
        if not ids:
            return stats
        stats.batches = 1
        try:
            stats.delivered = await self._deliver(ids, token)
            return stats
        except Exception:
            log.warning(
                "outbox %s: batch of %d failed, isolating rows", self.spec.name, len(ids), exc_info=True
            )
        for row_id in ids:
            try:
                stats.delivered += await self._deliver([row_id], token)
            except Exception as error:
                outcome = await self._record_failure(row_id, token, error)
                if outcome == "dead":
                    stats.dead += 1
                    log.error("outbox %s: row %s is dead: %s", self.spec.name, row_id, error)
                elif outcome == "failed":
                    stats.failed += 1
        return stats

    async def drain(self, *, time_budget_seconds: float = 10.0) -> DrainStats:
        """Process batches until the outbox has nothing due or the budget is spent."""
        total = DrainStats()
        deadline = time.monotonic() + time_budget_seconds
        while time.monotonic() < deadline:
            stats = await self.process_batch()
            total.claimed += stats.claimed
            total.delivered += stats.delivered
            total.failed += stats.failed
            total.dead += stats.dead
            total.batches += stats.batches
            if stats.claimed < self.batch_size:
                break
        return total
