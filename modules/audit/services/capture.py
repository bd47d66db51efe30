"""Capture: every published event becomes one audit_outbox row in the publishing transaction.

The row already holds the audit record's columns (action, crud, actor, target, …), so the relay
only has to place it in its chain and move it, in SQL, into audit_logs."""

from __future__ import annotations

import functools
import ipaddress
from typing import Any, cast

import msgspec
from sqlalchemy import Table, insert

from modules.audit.models import AuditOutbox
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Event
from platform_core.messaging.uow import UnitOfWork

RELAY_NAME = "audit"
OUTBOX_TABLE = cast(Table, AuditOutbox.__table__)  # keyed by column name: outbox_row's "metadata"

_CREATE_VERBS = {"created", "added", "issued", "placed", "granted", "invited", "registered", "opened"}
_DELETE_VERBS = {"deleted", "removed", "erased", "revoked", "archived", "released", "canceled"}
_READ_VERBS = {"read", "viewed", "exported", "listed"}


def crud_of(action: str) -> str:
    verb = action.rsplit(".", 1)[-1]
    if verb in _CREATE_VERBS:
        return "c"
    if verb in _DELETE_VERBS:
        return "d"
    if verb in _READ_VERBS:
        return "r"
    return "u"


@functools.lru_cache(maxsize=4096)
def ip_or_none(value: str | None) -> str | None:
    """An event's source_ip as the log stores it; anything that is not an address is dropped."""
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def outbox_row(event: Event) -> dict[str, Any]:
    """The audit_outbox row (column names to values) that records `event`."""
    return {
        "id": uuid7(),
        "event_id": event.event_id,
        "org_id": event.org_id,
        "action": event.type,
        "crud": crud_of(event.type),
        "outcome": "failure" if event.data.get("outcome") == "failure" else "success",
        "actor_type": event.actor.type,
        "actor_id": event.actor.id,
        "actor_name": event.actor.name,
        "target_type": event.subject.type,
        "target_id": event.subject.id,
        "target_name": event.subject.name,
        "source_ip": ip_or_none(event.source_ip),
        "user_agent": event.user_agent,
        "event_version": event.version,
        "metadata": msgspec.to_builtins(event.data),
        "occurred_at": event.occurred_at,
    }


async def capture_event(uow: UnitOfWork, event: Event) -> None:
    await uow.session.execute(insert(OUTBOX_TABLE).values(outbox_row(event)))
    uow.request_drain(RELAY_NAME)
