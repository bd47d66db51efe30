"""billing's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from modules.billing.services.subscriptions import RENEW_BATCH, renew_due
from platform_core.messaging.scheduler import batched_job

RENEW_SUBSCRIPTIONS = batched_job(
    "billing.renew_subscriptions",
    timedelta(minutes=5),
    renew_due,
    RENEW_BATCH,
    summary="moved {} subscription(s) into their next period",
    description="End subscriptions canceled at period end, end trials, and start the next billing period.",
)
