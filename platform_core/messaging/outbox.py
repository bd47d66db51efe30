"""The generic transactional-outbox relay.

A relay drains one outbox table in three short transactions per batch:

1. **claim** — `FOR UPDATE SKIP LOCKED` picks up to `batch_size` due rows (pending, or failed
   and due again, whose lease is absent or expired), leases them to this worker's claim token
   until `now() + lease`, bumps `attempts`, and commits at once: no broker or network call ever
   happens while claim locks are held. The claim writes only unindexed columns, so it is a HOT
   update: no index entry is added for it.
2. **deliver** — a new transaction locks the rows still leased to the token (a row whose lease
   expired and was re-claimed by another worker is skipped), hands them to the module's
   handler, then deletes them (or marks them `delivered`) and commits: delivery and completion
   are one atomic step for database sinks, and a handler error undoes both. A handler for a
   sink that answers row by row (an HTTP endpoint) returns the rows that failed, with their
   errors: those are set `failed` (or `dead`) in the same transaction, the rest completed.
3. **isolate** — if the batch fails, it is split in halves and retried until the failing rows
   stand alone; such a row is set `failed` with exponential backoff and jitter, or `dead`
   after `max_attempts`, with `last_error`, so one poison event never blocks the others.

A relay whose receiver must not be called while a transaction is open (a payment provider)
declares a `call`: it runs between steps 1 and 2 with no transaction open, and step 2 records
its results (see `OutboxRelaySpec.call`).

A row is *in flight* while its lease has not expired; `status` is not changed by a claim (see
`in_flight_sql`). A worker killed after step 1 leaves its rows leased; once the lease expires
any worker claims them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from platform_core.core import telemetry
from platform_core.persistence.db import driver_of

log = logging.getLogger(__name__)

OutboxRow = Mapping[str, Any]  # an asyncpg Record: row["column"]
RowFailures = Mapping[uuid.UUID, str]  # row id -> why its delivery failed
BatchHandler = Callable[[AsyncConnection, Sequence[OutboxRow]], Awaitable[RowFailures | None]]
# a call to an external system made with no transaction open; returns what happened per row id
OutsideCall = Callable[[Sequence[OutboxRow]], Awaitable[Mapping[uuid.UUID, Any]]]
OUTCOME = "outcome"  # the key under which an outside call's result reaches the handler


class PermanentFailure(str):
    """A row failure that retrying cannot fix (the receiver refused the request itself): the
    row is set `dead` at once, with this as its `last_error`."""


OUTBOX_STATUSES = ("pending", "delivered", "failed", "dead")


def in_flight_sql(alias: str = "") -> str:
    """SQL condition: the row is leased to a worker right now."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}claimed_by IS NOT NULL AND {prefix}lease_expires_at > now()"


_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


@dataclass(frozen=True)
class OutboxRelaySpec:
    """How one module's outbox is drained. `table` is schema-qualified and has at least the
    columns id (ordered, e.g. UUIDv7), status (`OUTBOX_STATUSES`), attempts, next_attempt_at,
    lease_expires_at, claimed_by, last_error and delivered_at, a partial index on id for status
    IN ('pending', 'failed'), no index on attempts, lease_expires_at or claimed_by (that keeps
    claims HOT), and a fillfactor that leaves room for the claimed row versions (see
    audit.audit_outbox). `returning` is the select list of the rows handed to `handler`, with
    the table aliased `o`; it must include `id`. Naming only what the handler reads saves the
    transfer and decoding of every column; a database sink can read the rest itself, in SQL,
    since the rows stay locked, and are deleted only after the handler returns."""

    name: str
    table: str
    handler: BatchHandler
    delete_on_success: bool = True
    batch_size: int | None = None
    queue_name: str = "default"
    returning: str = "*"
    # retry policy of this relay, where it differs from the deployment's RelayTuning (an
    # HTTP receiver that is down for an hour should not lose its events)
    max_attempts: int | None = None
    backoff_base_seconds: float | None = None
    # For a receiver that must not be called while a transaction is open (a payment provider):
    # `call` gets the claimed rows between the claim and the delivery transaction, outside any
    # transaction (the lease keeps other workers off them), and `handler` then gets each row
    # with the call's result under `row["outcome"]`. A crash after the call calls again once
    # the lease expires, so the call must be idempotent per row (e.g. a key derived from its id).
    call: OutsideCall | None = None


@dataclass(frozen=True)
class RelayTuning:
    """`synchronous_commit=False` lets the relay's own transactions (claim, deliver, failure)
    commit without waiting for the WAL flush. Nothing can be lost by it: a database crash
    forgets at most the latest of them, atomically, so their rows are simply claimed and
    delivered again (at-least-once; the audit chain, appended in the same transaction, is
    rolled back with them). The producers' transactions keep their own setting."""

    batch_size: int = 500
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 3600.0
    synchronous_commit: bool = False


@dataclass
class DrainStats:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    batches: int = 0

    def add(self, other: DrainStats) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.failed += other.failed
        self.dead += other.dead
        self.batches += other.batches


def backoff_seconds(attempts: int, tuning: RelayTuning) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base * 2**(n-1))]."""
    ceiling = min(tuning.backoff_cap_seconds, tuning.backoff_base_seconds * 2 ** max(0, attempts - 1))
    return random.uniform(min(ceiling, tuning.backoff_base_seconds / 2), ceiling)


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, spec: OutboxRelaySpec, tuning: RelayTuning) -> None:
        self.engine = engine
        self.spec = spec
        self.tuning = dataclasses.replace(
            tuning,
            max_attempts=spec.max_attempts or tuning.max_attempts,
            backoff_base_seconds=spec.backoff_base_seconds or tuning.backoff_base_seconds,
        )
        self.batch_size = spec.batch_size or tuning.batch_size
        self._span_name = f"outbox deliver {spec.name}"
        table = spec.table
        # One walk of the due index in id order: leased rows (in flight) are passed over, rows
        # whose lease expired are taken again, oldest first.
        self._claim_sql = f"""
            WITH due AS (
                 SELECT id FROM {table}
                  WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()
                    AND (lease_expires_at IS NULL OR lease_expires_at <= now())
                  ORDER BY id
                  LIMIT $1
                  FOR UPDATE SKIP LOCKED)
            UPDATE {table} AS o
               SET attempts = o.attempts + 1, claimed_by = $2, lease_expires_at = now() + $3
              FROM due
             WHERE o.id = due.id
            RETURNING o.id, o.attempts"""
        # Delivery locks the rows this token still owns (a row whose lease expired and was
        # re-claimed by another worker is skipped), hands them to the handler, then completes
        # them, all in one transaction: a handler failure rolls the completion back with it.
        # The three statements of every batch go straight to asyncpg (prepared, no per-row
        # SQLAlchemy processing); the rare failure paths below use SQLAlchemy.
        owned = "id = ANY($1::uuid[]) AND claimed_by = $2 AND status IN ('pending', 'failed')"
        self._owned_sql = f"SELECT {spec.returning} FROM {table} AS o WHERE {owned} ORDER BY o.id FOR UPDATE"
        self._leased_sql = f"SELECT {spec.returning} FROM {table} AS o WHERE {owned} ORDER BY o.id"
        if spec.delete_on_success:
            self._complete_sql = f"DELETE FROM {table} WHERE id = ANY($1::uuid[])"
        else:
            self._complete_sql = f"""UPDATE {table} SET status = 'delivered', delivered_at = now(),
                           claimed_by = NULL, lease_expires_at = NULL, last_error = NULL
                     WHERE id = ANY($1::uuid[])"""
        self._fail_sql = text(
            f"""UPDATE {table}
                   SET status = CASE WHEN attempts >= :max_attempts OR CAST(:permanent AS boolean) THEN 'dead'
                                     ELSE 'failed' END,
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

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            if not self.tuning.synchronous_commit:
                await conn.execute(_ASYNC_COMMIT)  # through SQLAlchemy: it opens the transaction
            yield conn

    async def claim(self, token: uuid.UUID) -> list[uuid.UUID]:
        """Step 1 alone: lease up to a batch of due rows to `token` and commit."""
        return list(await self._claim(token))

    async def _claim(self, token: uuid.UUID) -> dict[uuid.UUID, int]:
        # untraced: every sweep claims, mostly nothing, and would flood the traces with SQL spans
        with telemetry.untraced():
            return await self._claim_in_transaction(token)

    async def _claim_in_transaction(self, token: uuid.UUID) -> dict[uuid.UUID, int]:
        async with self._transaction() as conn:
            driver = await driver_of(conn)
            rows = await driver.fetch(self._claim_sql, self.batch_size, token, self.tuning.lease)
            claimed: dict[uuid.UUID, int] = {}
            exhausted = []
            for row_id, attempts in rows:
                if attempts > self.tuning.max_attempts:
                    exhausted.append(row_id)
                else:
                    claimed[row_id] = attempts
            if exhausted:
                await conn.execute(self._bury_sql, {"ids": exhausted})
        return claimed

    async def _call_outside(self, ids: Sequence[uuid.UUID], token: uuid.UUID) -> Mapping[uuid.UUID, Any]:
        """Read the leased rows, close that transaction, then make the spec's call (traced as
        its own span, beside the delivery's, while tracing is on)."""
        assert self.spec.call is not None
        async with self.engine.connect() as conn:
            rows = await (await driver_of(conn)).fetch(self._leased_sql, ids, token)
            await conn.rollback()
        if not rows:
            return {}
        with telemetry.span(f"outbox call {self.spec.name}", {"keel.outbox.rows": len(rows)}):
            return await self.spec.call(rows)

    async def _deliver(
        self,
        ids: Sequence[uuid.UUID],
        token: uuid.UUID,
        claimed: Mapping[uuid.UUID, int],
        outcomes: Mapping[uuid.UUID, Any] | None = None,
    ) -> DrainStats:
        """Step 2, traced as one span (with the handler's SQL in it) while tracing is on."""
        with telemetry.span(
            self._span_name, {"keel.outbox.name": self.spec.name, "keel.outbox.rows": len(ids)}
        ):
            return await self._deliver_in_transaction(ids, token, claimed, outcomes)

    async def _deliver_in_transaction(
        self,
        ids: Sequence[uuid.UUID],
        token: uuid.UUID,
        claimed: Mapping[uuid.UUID, int],
        outcomes: Mapping[uuid.UUID, Any] | None = None,
    ) -> DrainStats:
        outcome = DrainStats()
        async with self._transaction() as conn:
            driver = await driver_of(conn)
            owned: Sequence[OutboxRow] = await driver.fetch(self._owned_sql, ids, token)
            if outcomes is not None:
                owned = [{**row, OUTCOME: outcomes.get(row["id"])} for row in owned]
            if owned:
                failures = await self.spec.handler(conn, owned) or {}
                done = [row["id"] for row in owned if row["id"] not in failures]
                if done:
                    await driver.execute(self._complete_sql, done)
                outcome.delivered = len(done)
                for row_id, error in failures.items():
                    status = await self._fail(conn, row_id, claimed[row_id], token, error)
                    outcome.dead += status == "dead"
                    outcome.failed += status == "failed"
        return outcome

    async def _fail(
        self, conn: AsyncConnection, row_id: uuid.UUID, attempts: int, token: uuid.UUID, error: str
    ) -> str | None:
        delay = timedelta(seconds=backoff_seconds(attempts, self.tuning))
        status = (
            await conn.execute(
                self._fail_sql,
                {
                    "id": row_id,
                    "token": token,
                    "max_attempts": self.tuning.max_attempts,
                    "delay": delay,
                    "error": error[:2000],
                    "permanent": isinstance(error, PermanentFailure),
                },
            )
        ).scalar_one_or_none()
        if status == "dead":
            log.error("outbox %s: row %s is dead: %s", self.spec.name, row_id, error)
        return status

    async def _record_failure(
        self, row_id: uuid.UUID, attempts: int, token: uuid.UUID, error: BaseException
    ) -> str | None:
        async with self._transaction() as conn:
            return await self._fail(conn, row_id, attempts, token, f"{type(error).__name__}: {error}")

    async def _isolate(
        self, claimed: dict[uuid.UUID, int], ids: list[uuid.UUID], token: uuid.UUID,
        error: BaseException, stats: DrainStats, outcomes: Mapping[uuid.UUID, Any] | None = None,
    ) -> None:  # fmt: skip
        """`ids` failed together: deliver each half again until the failing rows stand alone
        (k poison rows in a batch of n cost O(k log n) transactions, not n)."""
        if len(ids) == 1:
            outcome = await self._record_failure(ids[0], claimed[ids[0]], token, error)
            stats.dead += outcome == "dead"
            stats.failed += outcome == "failed"
            return
        middle = len(ids) // 2
        for part in (ids[:middle], ids[middle:]):
            try:
                stats.add(await self._deliver(part, token, claimed, outcomes))
            except Exception as part_error:
                await self._isolate(claimed, part, token, part_error, stats, outcomes)

    async def process_batch(self, token: uuid.UUID | None = None) -> DrainStats:
        """Claim one batch and deliver it; returns what happened."""
        token = token or uuid.uuid4()
        return await self._deliver_claimed(await self._claim(token), token)

    async def _deliver_claimed(self, claimed: dict[uuid.UUID, int], token: uuid.UUID) -> DrainStats:
        stats = DrainStats(claimed=len(claimed))
        if not claimed:
            return stats
        stats.batches = 1
        ids = list(claimed)
        outcomes = None
        try:
            if self.spec.call is not None:  # once per batch: isolating a failure never calls again
                outcomes = await self._call_outside(ids, token)
            stats.add(await self._deliver(ids, token, claimed, outcomes))
        except Exception as error:
            log.warning(
                "outbox %s: batch of %d failed, isolating rows", self.spec.name, len(ids), exc_info=True
            )
            if self.spec.call is not None and outcomes is None:  # the call itself failed
                for row_id in ids:
                    failed = await self._record_failure(row_id, claimed[row_id], token, error)
                    stats.dead += failed == "dead"
                    stats.failed += failed == "failed"
                return stats
            await self._isolate(claimed, ids, token, error, stats, outcomes)
        return stats

    async def drain(self, *, time_budget_seconds: float = 10.0) -> DrainStats:
        """Process batches until the outbox has nothing due or the budget is spent.

        While a full batch is being delivered the next one is already claimed on a second
        connection, so the database's claim work overlaps the handler's Python work. If a
        delivery raises, the prefetched rows stay leased and are re-taken when the lease ends."""
        total = DrainStats()
        deadline = time.monotonic() + time_budget_seconds
        token = uuid.uuid4()
        claimed = await self._claim(token)
        while claimed:
            prefetch: asyncio.Task[dict[uuid.UUID, int]] | None = None
            next_token = uuid.uuid4()
            if len(claimed) >= self.batch_size and time.monotonic() < deadline:
                prefetch = asyncio.create_task(self._claim(next_token))
            try:
                total.add(await self._deliver_claimed(claimed, token))
            except BaseException:
                if prefetch is not None:
                    with contextlib.suppress(Exception):
                        await prefetch
                raise
            if prefetch is None:
                break
            claimed, token = await prefetch, next_token
        return total
