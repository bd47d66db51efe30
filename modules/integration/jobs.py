"""integration's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from modules.integration.services.deliveries import LOG_RETENTION, PURGE_BATCH, purge_old_deliveries
from platform_core.scheduler import ScheduledJob, in_batches
from platform_core.uow import UnitOfWorkFactory


async def purge_deliveries(uows: UnitOfWorkFactory) -> str:
    return f"purged {await in_batches(uows, purge_old_deliveries, PURGE_BATCH)} old webhook deliveries"


PURGE_DELIVERIES = ScheduledJob(
    name="integration.purge_deliveries",
    every=timedelta(hours=1),
    run=purge_deliveries,
    description=f"Delete delivered and dead webhook deliveries older than {LOG_RETENTION.days} days.",
)
