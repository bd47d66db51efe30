"""organization's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from modules.organization.services.invitations import EXPIRE_BATCH, expire_invitations
from platform_core.messaging.scheduler import batched_job

EXPIRE_INVITATIONS = batched_job(
    "organization.expire_invitations",
    timedelta(hours=1),
    expire_invitations,
    EXPIRE_BATCH,
    summary="expired {} invitation(s)",
    description="Mark pending invitations past their expiry as expired (with an audit event each).",
)
