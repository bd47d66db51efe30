"""entitlements's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from modules.entitlements.services.materialize import rematerialize_due
from platform_core.messaging.scheduler import ScheduledJob, in_batches
from platform_core.messaging.uow import UnitOfWork, UnitOfWorkFactory

POOLS_PER_TRANSACTION = 1000


async def rematerialize(uows: UnitOfWorkFactory, *, limit: int = POOLS_PER_TRANSACTION) -> str:
    """End provisions whose window passed and refresh the pools whose schedule crossed a
    boundary, `limit` pools per transaction, until none is due."""

    async def step(uow: UnitOfWork) -> int:
        return await rematerialize_due(uow, limit=limit)

    return f"re-materialized {await in_batches(uows, step, limit)} pool(s)"


REMATERIALIZE = ScheduledJob(
    name="entitlements.rematerialize",
    every=timedelta(minutes=5),
    run=rematerialize,
    description=(
        "End provisions past their window; refresh the stored values of pools whose schedule"
        " passed a boundary."
    ),
)
