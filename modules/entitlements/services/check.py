"""The entitlement check: may a workspace use a resource key (for `quantity` more)?

Answered from materialized rows in one indexed query (workspace → pool → entitlement → the
latest usage period), no aggregation: the schedule gives the limit in force now, the period
function says whether the stored running total still belongs to the current period."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from modules.entitlements.contracts import CheckResult
from modules.entitlements.services import aggregation, schedule
from modules.entitlements.services.aggregation import ZERO, UsageState
from modules.entitlements.services.driver import connection, translated_errors
from modules.entitlements.services.periods import Cycle, period_of
from platform_core.cache.hot_cache import HotCache, HotCaches
from platform_core.core.clock import utcnow
from platform_core.messaging.events import Event
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.db import driver_of

_COLUMNS = """
       pa.org_id, pa.pool_id, rk.id AS rk_id, rk.kind AS rk_kind,
       be.schedule::text AS b_schedule,
       ne.id AS ne_id, ne.kind AS ne_kind, ne.aggregation, ne.reset_period, ne.enforcement,
       ne.cycle_anchor, ne.cycle_interval, ne.cycle_interval_count, ne.schedule::text AS n_schedule,
       u.period_start, u.used, u.sum_quantity, u.event_count, u.last_occurred_at,
       ps.reason AS suspended"""

# A suspended pool (entitlements_0023_suspensions) is one more probe of a partial unique index.
_JOINS = """
  LEFT JOIN entitlements.pool_suspensions ps ON ps.pool_id = pa.pool_id AND ps.resumed_at IS NULL
  LEFT JOIN entitlements.boolean_entitlements be
         ON be.pool_id = pa.pool_id AND be.resource_key_id = rk.id
  LEFT JOIN entitlements.numeric_entitlements ne
         ON ne.pool_id = pa.pool_id AND ne.resource_key_id = rk.id
  LEFT JOIN LATERAL (
        SELECT period_start, used, sum_quantity, event_count, last_occurred_at
          FROM entitlements.numeric_entitlement_usage
         WHERE numeric_entitlement_id = ne.id AND period_start <= $3
         ORDER BY period_start DESC LIMIT 1) u ON true"""

CHECK_ONE = f"""SELECT {_COLUMNS}
  FROM entitlements.pool_assignments pa
  LEFT JOIN entitlements.resource_keys rk ON rk.key = $2
  {_JOINS}
 WHERE pa.workspace_id = $1"""

CHECK_MANY = f"""SELECT q.i, q.ws, {_COLUMNS}
  FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS q(ws, key, i)
  JOIN entitlements.pool_assignments pa ON pa.workspace_id = q.ws
  LEFT JOIN entitlements.resource_keys rk ON rk.key = q.key
  {_JOINS}"""


class CheckRow:
    """A row of CHECK_ONE/CHECK_MANY with its schedules decoded once (it may be cached and
    evaluated many times)."""

    __slots__ = ("boolean_schedule", "numeric_schedule", "row")

    def __init__(self, row: Any) -> None:
        self.row = row
        raw = row["b_schedule"]
        self.boolean_schedule = schedule.decode(raw) if raw else None
        raw = row["n_schedule"]
        self.numeric_schedule = schedule.decode(raw) if raw else None


def evaluate(prepared: CheckRow, key: str, quantity: Decimal | None, now: datetime) -> CheckResult:
    """The answer for one materialized row (pure)."""
    row = prepared.row
    if row["rk_id"] is None:
        return CheckResult(key=key, allowed=False, kind=None, reason="unknown_resource_key")
    rk_kind = row["rk_kind"]
    if row["suspended"] is not None:  # e.g. billing's dunning: nothing counts until it resumes
        return CheckResult(key=key, allowed=False, kind=rk_kind, reason=f"suspended_for_{row['suspended']}")
    if rk_kind != "numeric":
        segments = prepared.boolean_schedule
        seg = schedule.at(segments, now) if segments is not None else None
        if seg is None:
            return CheckResult(key=key, allowed=False, kind=rk_kind, reason="not_entitled")
        return CheckResult(
            key=key, allowed=True, kind=rk_kind, value=seg.value if rk_kind == "config" else True
        )
    if row["ne_id"] is None:
        return CheckResult(key=key, allowed=False, kind=None, limit=ZERO, reason="not_entitled")
    kind = row["ne_kind"]
    seg = schedule.at(prepared.numeric_schedule or [], now)
    cycle = None
    if row["cycle_anchor"] is not None:
        cycle = Cycle(row["cycle_anchor"], row["cycle_interval"], row["cycle_interval_count"])
    period = period_of(row["reset_period"], now, cycle)
    state = UsageState()
    if row["period_start"] is not None and row["period_start"] == period.start:
        state = UsageState(row["used"], row["sum_quantity"], row["event_count"], row["last_occurred_at"])
    if seg is None or seg.limit is None:
        return CheckResult(
            key=key, allowed=False, kind=kind, limit=ZERO, used=state.used, remaining=ZERO,
            reset_at=period.end, reason="not_entitled",
        )  # fmt: skip
    limit = seg.limit
    agg = row["aggregation"]
    if quantity is not None:
        fits = aggregation.apply(agg, state, quantity, now).used <= limit
    elif agg in aggregation.ACCUMULATING:
        fits = state.used < limit
    else:
        fits = state.used <= limit
    soft = row["enforcement"] == "soft"
    reason = None if fits else ("soft_limit_exceeded" if soft else "limit_exceeded")
    return CheckResult(
        key=key,
        allowed=fits or soft,
        kind=kind,
        limit=limit,
        used=state.used,
        remaining=max(limit - state.used, ZERO),
        reset_at=period.end,
        reason=reason,
    )


class Located(msgspec.Struct, frozen=True):
    """A check answer plus the organization that owns the workspace (for authorization)."""

    org_id: uuid.UUID
    result: CheckResult


async def check(
    uow: UnitOfWork, workspace_id: uuid.UUID, key: str, quantity: Decimal | None = None
) -> Located | None:
    """None when the workspace uses no pool (or does not exist)."""
    return await check_on(await connection(uow, transactional=False), workspace_id, key, quantity)


async def check_on(conn: Any, workspace_id: uuid.UUID, key: str, quantity: Decimal | None) -> Located | None:
    """The check on a raw asyncpg connection: a single statement, no transaction needed."""
    now = utcnow()
    row = await conn.fetchrow(CHECK_ONE, workspace_id, key, now)
    if row is None:
        return None
    return Located(row["org_id"], evaluate(CheckRow(row), key, quantity, now))


CHECK_CACHE = "entitlements.check"
CHECK_TTL_SECONDS = 30.0


def _check_cache(caches: HotCaches | None) -> HotCache[tuple[uuid.UUID, str], CheckRow] | None:
    return caches.cache(CHECK_CACHE, ttl_seconds=CHECK_TTL_SECONDS) if caches else None


def evaluate_now(prepared: CheckRow, key: str, quantity: Decimal | None) -> CheckResult:
    return evaluate(prepared, key, quantity, utcnow())


def cached_row(caches: HotCaches | None, workspace_id: uuid.UUID, key: str) -> CheckRow | None:
    """The materialized row of (workspace, key) if this process holds it (no database)."""
    cache = _check_cache(caches)
    return cache.get((workspace_id, key)) if cache else None


async def check_pooled(
    engine: AsyncEngine, caches: HotCaches | None, workspace_id: uuid.UUID, key: str, quantity: Decimal | None
) -> Located | None:
    """The HTTP hot path. The materialized row of (workspace, key) comes from the process's hot
    cache, else from one query on a pooled connection (no session or unit of work: their set-up
    costs more than the query); the answer is evaluated afresh from it on every call, so limits
    in force, expiry and period rollover follow the clock. Ingesting usage into the pool,
    (re)materializing it, and any entitlements or organization event invalidate the row."""
    cache = _check_cache(caches)
    prepared = cache.get((workspace_id, key)) if cache else None
    if prepared is None:
        ticket = cache.ticket() if cache else 0
        async with engine.connect() as conn, translated_errors():
            row = await (await driver_of(conn)).fetchrow(CHECK_ONE, workspace_id, key, utcnow())
        if row is None:
            return None
        prepared = CheckRow(row)
        if cache:
            cache.put((workspace_id, key), prepared, (pool_tag(row["pool_id"]),), ticket)
    return Located(prepared.row["org_id"], evaluate(prepared, key, quantity, utcnow()))


def pool_tag(pool_id: uuid.UUID) -> str:
    return f"pool:{pool_id}"


async def invalidate_pools(uow: UnitOfWork, pool_ids: Iterable[uuid.UUID]) -> None:
    """This transaction changes what checks of these pools' workspaces answer."""
    await uow.invalidate(CHECK_CACHE, sorted({pool_tag(p) for p in pool_ids}))


async def invalidate_checks(uow: UnitOfWork, _event: Event) -> None:
    """Subscriber: any entitlements or organization event may change any check's row."""
    await uow.invalidate(CHECK_CACHE)


async def check_many(
    uow: UnitOfWork, items: Sequence[tuple[uuid.UUID, str, Decimal | None]]
) -> list[Located | None]:
    now = utcnow()
    conn = await connection(uow, transactional=False)
    rows = await conn.fetch(CHECK_MANY, [i[0] for i in items], [i[1] for i in items], now)
    out: list[Located | None] = [None] * len(items)
    for row in rows:
        index = row["i"] - 1
        _, key, quantity = items[index]
        out[index] = Located(row["org_id"], evaluate(CheckRow(row), key, quantity, now))
    return out
