"""Domain events: what a module publishes, about what, caused by whom."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from platform_core.core.clock import utcnow
from platform_core.core.ids import uuid7
from platform_core.core.principal import Actor

__all__ = ["SYSTEM_ACTOR", "Actor", "Event", "Subject", "inbound_webhook_type"]

SYSTEM_ACTOR = Actor(type="system", id=None, name="keel")


class Subject(msgspec.Struct, frozen=True, kw_only=True):
    """What an event is about (the audit log's "target")."""

    type: str
    id: str
    name: str | None = None


def inbound_webhook_type(provider: str, provider_type: str) -> str:
    """The event type under which a verified inbound webhook is published, e.g.
    `integration.inbound.stripe.invoice.paid`: modules subscribe to it in their wiring without
    importing integration."""
    return f"integration.inbound.{provider}.{provider_type}"


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """A versioned fact a module publishes. `type` reads `<module>.<aggregate>.<verb>`."""

    type: str
    subject: Subject
    actor: Actor = SYSTEM_ACTOR
    data: dict[str, Any] = {}
    org_id: uuid.UUID | None = None
    version: int = 1
    event_id: uuid.UUID = msgspec.field(default_factory=uuid7)
    occurred_at: datetime = msgspec.field(default_factory=utcnow)
    source_ip: str | None = None
    user_agent: str | None = None
