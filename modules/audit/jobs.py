"""audit's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from modules.audit.services.retention import BATCH, apply_retention
from platform_core.messaging.scheduler import batched_job

APPLY_RETENTION = batched_job(
    "audit.apply_retention",
    timedelta(hours=1),
    apply_retention,
    BATCH,
    summary="removed {} expired audit record(s)",
    description="Archive and remove audit records older than their retention policy, except held ones.",
)
