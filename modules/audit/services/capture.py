"""Capture: every published event becomes one audit_outbox row in the publishing transaction."""

from __future__ import annotations

import msgspec
from sqlalchemy import insert

from modules.audit.models import AuditOutbox
from platform_core.events import Event
from platform_core.uow import UnitOfWork

RELAY_NAME = "audit"


async def capture_event(uow: UnitOfWork, event: Event) -> None:
    await uow.session.execute(
        insert(AuditOutbox).values(
            event_id=event.event_id,
            event_type=event.type,
            org_id=event.org_id,
            payload=msgspec.to_builtins(event),
        )
    )
    uow.request_drain(RELAY_NAME)
