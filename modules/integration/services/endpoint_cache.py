"""Which enabled endpoints an organization has, cached per process: every event of every
organization asks, so the answer must not cost a query each time (see ADR 0008)."""

from __future__ import annotations

import fnmatch
import uuid

import msgspec
from sqlalchemy import select

from modules.integration.models import WebhookEndpoint
from platform_core.cache.hot_cache import HotCache, caches_of
from platform_core.messaging.uow import UnitOfWork

ENDPOINTS_CACHE = "integration.endpoints"
ENDPOINTS_TTL_SECONDS = 60.0


class Target(msgspec.Struct, frozen=True):
    endpoint_id: uuid.UUID
    url: str
    event_types: tuple[str, ...]

    def wants(self, event_type: str) -> bool:
        """The same globs as event subscriptions: `*`, an exact type, or a family (`billing.*`
        covers `billing.invoice.paid`)."""
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.event_types)


def _org_tag(org_id: uuid.UUID) -> str:
    return f"org:{org_id}"


async def enabled_targets(uow: UnitOfWork, org_id: uuid.UUID) -> tuple[Target, ...]:
    caches = caches_of(uow.session)
    cache: HotCache[uuid.UUID, tuple[Target, ...]] | None = (
        caches.cache(ENDPOINTS_CACHE, ttl_seconds=ENDPOINTS_TTL_SECONDS) if caches else None
    )
    cached = cache.get(org_id) if cache else None
    if cached is not None:
        return cached
    ticket = cache.ticket() if cache else 0
    rows = await uow.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.event_types).where(
            WebhookEndpoint.org_id == org_id, WebhookEndpoint.status == "enabled"
        )
    )
    targets = tuple(Target(r.id, r.url, tuple(r.event_types)) for r in rows)
    if cache:
        cache.put(org_id, targets, [_org_tag(org_id)], ticket)
    return targets


async def invalidate_endpoints(uow: UnitOfWork, org_id: uuid.UUID) -> None:
    """This transaction changes the organization's endpoints."""
    await uow.invalidate(ENDPOINTS_CACHE, [_org_tag(org_id)])
