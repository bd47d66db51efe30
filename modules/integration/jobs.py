"""integration's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from modules.integration.services.deliveries import LOG_RETENTION, PURGE_BATCH, purge_old_deliveries
from modules.integration.services.inbound import PROCESS_WEBHOOKS_JOB, process_one
from platform_core.messaging.scheduler import batched_job

PURGE_DELIVERIES = batched_job(
    "integration.purge_deliveries",
    timedelta(hours=1),
    purge_old_deliveries,
    PURGE_BATCH,
    summary="purged {} old webhook deliveries",
    description=f"Delete delivered and dead webhook deliveries older than {LOG_RETENTION.days} days.",
)

PROCESS_WEBHOOKS = batched_job(
    PROCESS_WEBHOOKS_JOB,
    timedelta(minutes=1),
    process_one,
    1,
    summary="processed {} inbound webhook event(s)",
    description="Process inbound webhook events not processed on receipt (or due for a retry).",
)
