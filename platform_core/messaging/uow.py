"""The unit of work: one request or one job = one transaction. Cross-module calls share it;
published events reach their subscribers inside it, through the `EventBus` (declared here, since
subscribers receive the unit of work); after-commit hooks run once it is durable."""

from __future__ import annotations

import fnmatch
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_core.cache.hot_cache import CHANNEL, HotCaches, notify_payloads
from platform_core.core.config import Settings
from platform_core.core.principal import Actor, Principal
from platform_core.messaging.events import SYSTEM_ACTOR, Event, Subject

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None] | None]
DrainRequester = Callable[[str], None]  # schedules a nudge and returns at once; never awaited

_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")


class RequestContext(msgspec.Struct, frozen=True, kw_only=True):
    source_ip: str | None = None
    user_agent: str | None = None


class UnitOfWork:
    def __init__(
        self,
        session: AsyncSession,
        bus: EventBus,
        principal: Principal | None = None,
        context: RequestContext | None = None,
        drain_requester: DrainRequester | None = None,
        settings: Settings | None = None,
        caches: HotCaches | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.caches = caches
        self.session = session
        self._drain_requester = drain_requester
        self.bus = bus
        self.principal = principal
        self.context = context or RequestContext()
        self.published: list[Event] = []
        self._after_commit: dict[str, AfterCommit] = {}
        self._invalidations = 0

    @property
    def actor(self) -> Actor:
        if self.principal is None:
            return SYSTEM_ACTOR
        return self.principal.as_actor()

    async def publish(self, event: Event) -> None:
        """Deliver `event` to its subscribers now, inside this transaction."""
        self.published.append(event)
        await self.bus.dispatch(self, event)

    async def emit(
        self,
        type: str,
        *,
        subject: Subject,
        data: msgspec.Struct | dict[str, Any] | None = None,
        org_id: uuid.UUID | None = None,
        version: int = 1,
    ) -> Event:
        """Build an event stamped with this unit's actor and request context, and publish it."""
        payload = msgspec.to_builtins(data) if isinstance(data, msgspec.Struct) else (data or {})
        event = Event(
            type=type,
            version=version,
            subject=subject,
            actor=self.actor,
            data=payload,
            org_id=org_id,
            source_ip=self.context.source_ip,
            user_agent=self.context.user_agent,
        )
        await self.publish(event)
        return event

    def after_commit(self, key: str, hook: AfterCommit) -> None:
        """Run `hook` once after a successful commit; the same key registers only once."""
        self._after_commit.setdefault(key, hook)

    async def invalidate(self, cache: str, tags: Iterable[str] | None = None) -> None:
        """Announce that this transaction changes what `cache` holds for `tags` (None: all of
        it). Every process drops those entries when, and only if, the transaction commits."""
        tag_list = None if tags is None else list(tags)
        if tag_list is not None and not tag_list:
            return
        for payload in notify_payloads(cache, tag_list):
            await self.session.execute(_NOTIFY, {"payload": payload})
        caches = self.caches
        if caches is not None:
            self._invalidations += 1
            self.after_commit(
                f"invalidate:{self._invalidations}", lambda: caches.invalidate_locally(cache, tag_list)
            )

    def request_drain(self, relay_name: str) -> None:
        """Nudge the workers to drain `relay_name`'s outbox once this transaction commits. The
        nudge is sent in the background: a slow or frozen Redis never delays the commit or the
        answer, and the workers' periodic sweep delivers if the nudge is lost."""
        requester = self._drain_requester
        if requester is not None:
            self.after_commit(f"drain:{relay_name}", lambda: requester(relay_name))

    async def commit(self) -> None:
        await self.session.commit()
        hooks, self._after_commit = self._after_commit, {}
        for key, hook in hooks.items():
            try:
                result = hook()
                if result is not None:
                    await result
            except Exception:  # the transaction is durable; a failed hook must not undo the answer
                log.exception("after-commit hook %s failed", key)

    async def rollback(self) -> None:
        self._after_commit.clear()
        await self.session.rollback()


class UnitOfWorkFactory:
    """Opens units of work on one session factory and event bus."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bus: EventBus,
        drain_requester: DrainRequester | None = None,
        settings: Settings | None = None,
        caches: HotCaches | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.bus = bus
        self.drain_requester = drain_requester
        self.settings = settings
        self.caches = caches

    def __call__(
        self,
        principal: Principal | None = None,
        context: RequestContext | None = None,
        session: AsyncSession | None = None,
    ) -> UnitOfWorkScope:
        """`session`: an already open session to adopt (the request's, opened by the auth
        middleware); the unit of work then commits or rolls it back and closes it."""
        return UnitOfWorkScope(self, principal, context, session)


class UnitOfWorkScope:
    """`async with factory() as uow:` commits on success and rolls back on any exception."""

    def __init__(
        self,
        factory: UnitOfWorkFactory,
        principal: Principal | None,
        context: RequestContext | None,
        session: AsyncSession | None = None,
    ) -> None:
        self._factory = factory
        self._principal = principal
        self._context = context
        self._session = session
        self._uow: UnitOfWork | None = None

    async def __aenter__(self) -> UnitOfWork:
        session = self._session or self._factory.sessionmaker()
        self._uow = UnitOfWork(
            session,
            self._factory.bus,
            self._principal,
            self._context,
            self._factory.drain_requester,
            self._factory.settings,
            self._factory.caches,
        )
        return self._uow

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._uow is not None
        try:
            if exc_type is None:
                await self._uow.commit()
            else:
                await self._uow.rollback()
        finally:
            await self._uow.session.close()


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
