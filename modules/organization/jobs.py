"""organization's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from modules.organization.services.invitations import EXPIRE_BATCH, expire_invitations
from platform_core.scheduler import ScheduledJob, in_batches
from platform_core.uow import UnitOfWorkFactory


async def expire_due_invitations(uows: UnitOfWorkFactory) -> str:
    return f"expired {await in_batches(uows, expire_invitations, EXPIRE_BATCH)} invitation(s)"


EXPIRE_INVITATIONS = ScheduledJob(
    name="organization.expire_invitations",
    every=timedelta(hours=1),
    run=expire_due_invitations,
    description="Mark pending invitations past their expiry as expired (with an audit event each).",
)
