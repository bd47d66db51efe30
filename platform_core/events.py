"""Domain events and the in-process bus that delivers them to subscribers inside the
publishing transaction."""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from platform_core.clock import utcnow
from platform_core.ids import uuid7

if TYPE_CHECKING:
    from platform_core.uow import UnitOfWork


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who caused an event: a person, a service account, or the system itself."""

    type: str
    id: str | None = None
    name: str | None = None


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


Subscriber = Callable[["UnitOfWork", Event], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """`pattern` is an event type or a glob (`*`, `billing.invoice.*`)."""

    pattern: str
    handler: Subscriber


class EventBus:
    """Routes each published event to every matching subscriber, in declaration order."""

    def __init__(self, subscriptions: Sequence[Subscription] = ()) -> None:
        self._subscriptions = list(subscriptions)
        self._cache: dict[str, list[Subscriber]] = {}

    def subscribe(self, subscription: Subscription) -> None:
        self._subscriptions.append(subscription)
        self._cache.clear()

    def handlers_for(self, event_type: str) -> list[Subscriber]:
        handlers = self._cache.get(event_type)
        if handlers is None:
            handlers = [s.handler for s in self._subscriptions if fnmatch.fnmatchcase(event_type, s.pattern)]
            self._cache[event_type] = handlers
        return handlers

    async def dispatch(self, uow: UnitOfWork, event: Event) -> None:
        for handler in self.handlers_for(event.type):
            await handler(uow, event)
