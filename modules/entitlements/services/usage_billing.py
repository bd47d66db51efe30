"""Usage that billing bills in arrears (a metered price names a resource key): the pool's
accepted usage events of that key not yet claimed by any invoice.

Attribution: an event belongs to the pool its workspace used when the ingest accepted it
(`usage_events.pool_id`, the pool whose entitlements it counted against), so moving a workspace
to another pool never moves usage already recorded.

`claim_usage` marks the events it takes with the caller's `claim_id` in one statement that
locks them in id order (`FOR UPDATE`, then `UPDATE … RETURNING`): a concurrent claimer waits
for the lock, re-reads `claimed_by` and skips what the first one took, so no event is claimed
twice. Every unclaimed event that occurred before `until` is taken, including one that
arrived after an earlier claim's `until` had passed (billed by the next invoice).
`usage_to_bill` answers the same without writing (previews)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from modules.entitlements.contracts import Aggregation, ClaimedUsage
from modules.entitlements.models import ResourceKey
from modules.entitlements.services import aggregation
from modules.entitlements.services.aggregation import UsageState
from platform_core.messaging.uow import UnitOfWork

_UNCLAIMED = """
  FROM entitlements.usage_events
 WHERE pool_id = :pool AND resource_key = :key AND org_id = :org
   AND status = 'accepted' AND claimed_by IS NULL
   AND occurred_at < :until AND (CAST(:since AS timestamptz) IS NULL OR occurred_at >= :since)
"""

# Set-based on purpose (one statement per claim, rows locked in id order so two claimers
# cannot deadlock); served by the partial index ix_usage_events_unclaimed.
CLAIM = text(
    f"""
WITH taken AS (SELECT id {_UNCLAIMED} ORDER BY id FOR UPDATE)
UPDATE entitlements.usage_events AS u SET claimed_by = :claim
  FROM taken WHERE u.id = taken.id AND u.claimed_by IS NULL
RETURNING u.id, u.quantity, u.occurred_at
"""
)
PREVIEW = text(f"SELECT id, quantity, occurred_at {_UNCLAIMED}")
CLAIMED_COUNTS = text(
    """SELECT claimed_by, count(*) AS n FROM entitlements.usage_events
        WHERE claimed_by = ANY(:claims) GROUP BY claimed_by"""
)


def aggregate(method: str, events: Iterable[tuple[Decimal, datetime]]) -> Decimal:
    """The billed quantity of `events` (quantity, occurred_at) per the key's aggregation, as a
    limit counts them (services/aggregation.py), in order of occurrence; 0 when there are none."""
    state = UsageState()
    for quantity, occurred_at in sorted(events, key=lambda e: e[1]):
        state = aggregation.apply(method, state, quantity, occurred_at)
    return state.used


async def _method(uow: UnitOfWork, resource_key: str) -> Aggregation:
    """The key's aggregation; SUM for a key that has none (a boolean or config key)."""
    method = await uow.session.scalar(select(ResourceKey.aggregation).where(ResourceKey.key == resource_key))
    return cast(Aggregation, method or "SUM")


def _usage(
    resource_key: str, method: Aggregation, rows: Sequence[Any], claim_id: uuid.UUID | None
) -> ClaimedUsage:
    return ClaimedUsage(
        resource_key=resource_key,
        aggregation=method,
        quantity=aggregate(method, ((r.quantity, r.occurred_at) for r in rows)),
        event_count=len(rows),
        usage_event_ids=sorted(r.id for r in rows),
        claim_id=claim_id,
    )


async def claim_usage(
    uow: UnitOfWork,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    resource_key: str,
    until: datetime,
    claim_id: uuid.UUID,
    since: datetime | None = None,
) -> ClaimedUsage:
    """Take every unclaimed accepted event of `resource_key` attributed to the pool with
    `since` <= occurred_at < `until`, marking it claimed by `claim_id`, in the caller's
    transaction (rolled back with it)."""
    params = {"pool": pool_id, "key": resource_key, "org": org_id, "until": until, "since": since}
    rows = (await uow.session.execute(CLAIM, {**params, "claim": claim_id})).all()
    return _usage(resource_key, await _method(uow, resource_key), rows, claim_id)


async def usage_to_bill(
    uow: UnitOfWork,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    resource_key: str,
    until: datetime,
    since: datetime | None = None,
) -> ClaimedUsage:
    """What `claim_usage` would take now, without writing anything."""
    params = {"pool": pool_id, "key": resource_key, "org": org_id, "until": until, "since": since}
    rows = (await uow.session.execute(PREVIEW, params)).all()
    return _usage(resource_key, await _method(uow, resource_key), rows, None)


async def claimed_counts(session: AsyncSession, claim_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many usage events each claim took (claims that took none are absent). Takes a
    session, not a unit of work: `keel billing reconcile` asks it inside its read-only snapshot."""
    if not claim_ids:
        return {}
    rows = await session.execute(CLAIMED_COUNTS, {"claims": list(claim_ids)})
    return {r.claimed_by: r.n for r in rows}
