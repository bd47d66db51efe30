"""Every event of an organization becomes one delivery per enabled endpoint that wants it,
written in the publishing transaction (the outbox): no event is sent that did not commit, and
none that committed is lost."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert

from modules.integration.contracts import WebhookPayload
from modules.integration.models import IntegrationOutbox
from modules.integration.services.endpoint_cache import enabled_targets
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Event
from platform_core.messaging.uow import UnitOfWork

RELAY_NAME = "integration"
OUTBOX = cast(Table, IntegrationOutbox.__table__)
OWN_EVENTS = "integration."  # endpoint changes are audited, not sent to the endpoints themselves


def payload_of(event: Event) -> dict[str, Any]:
    assert event.org_id is not None
    payload: dict[str, Any] = msgspec.to_builtins(
        WebhookPayload(
            id=event.event_id,
            type=event.type,
            version=event.version,
            occurred_at=event.occurred_at,
            org_id=event.org_id,
            subject=msgspec.to_builtins(event.subject),
            actor=msgspec.to_builtins(event.actor),
            data=event.data,
        )
    )
    return payload


async def enqueue_deliveries(uow: UnitOfWork, event: Event) -> None:
    if event.org_id is None or event.type.startswith(OWN_EVENTS):
        return
    targets = [t for t in await enabled_targets(uow, event.org_id) if t.wants(event.type)]
    if not targets:
        return
    payload = payload_of(event)
    rows = [
        {
            "id": uuid7(),
            "org_id": event.org_id,
            "endpoint_id": t.endpoint_id,
            "event_id": event.event_id,
            "topic": event.type,
            "destination": t.url,
            "payload": payload,
        }
        for t in targets
    ]
    await uow.session.execute(insert(OUTBOX).values(rows).on_conflict_do_nothing())
    uow.request_drain(RELAY_NAME)
