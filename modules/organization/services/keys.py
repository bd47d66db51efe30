"""Service-account keys: issue (secret shown once), list, revoke, and resolve a bearer key
into a Principal honouring expiry, revocation, allowed IPs and origins."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select, text

from modules.organization.contracts import (
    SERVICE_ACCOUNT_KEY_CREATED,
    SERVICE_ACCOUNT_KEY_PREFIX,
    SERVICE_ACCOUNT_KEY_REVOKED,
    IssuedServiceAccountKey,
    ServiceAccountKeyDTO,
)
from modules.organization.models import ServiceAccount, ServiceAccountKey
from modules.organization.services.common import ensure_writable, lock_org
from modules.organization.services.paging import by_id
from modules.organization.services.service_accounts import get_account
from platform_core.auth.credentials import (
    CredentialContext,
    SessionSource,
    display_prefix,
    hash_secret,
    new_secret,
    secret_is_well_formed,
)
from platform_core.cache.hot_cache import HotCache, HotCaches
from platform_core.core.clock import utcnow
from platform_core.core.errors import Forbidden, NotFound, Unprocessable
from platform_core.core.principal import Principal
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_TOUCH = text(
    """UPDATE organization.service_account_keys SET last_used_at = now()
        WHERE id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')"""
)


def to_dto(key: ServiceAccountKey) -> ServiceAccountKeyDTO:
    return ServiceAccountKeyDTO(
        id=key.id,
        org_id=key.org_id,
        service_account_id=key.service_account_id,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes),
        allowed_ips=[str(n) for n in key.allowed_ips],
        allowed_origins=list(key.allowed_origins),
        rate_limit_per_min=key.rate_limit_per_min,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        created_at=key.created_at,
    )


def _subject(key: ServiceAccountKey) -> Subject:
    return Subject(type="service_account_key", id=str(key.id), name=key.prefix)


def parse_networks(values: list[str]) -> list[Network]:
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=True))
        except ValueError as exc:
            raise Unprocessable(
                f"{value!r} is not an IP address or CIDR block (without host bits)",
                code="invalid_allowed_ips",
                errors=[{"field": "allowed_ips", "source": "body", "message": str(exc)}],
            ) from exc
    return networks


def normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


async def create_key(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    allowed_ips: list[str],
    allowed_origins: list[str],
    rate_limit_per_min: int | None,
) -> IssuedServiceAccountKey:
    ensure_writable(await lock_org(uow, org_id))
    account = await get_account(uow, org_id, account_id)
    if expires_at is not None and expires_at <= utcnow():
        raise Unprocessable("expires_at must be in the future", code="invalid_expiry")
    secret = new_secret(SERVICE_ACCOUNT_KEY_PREFIX)
    key = ServiceAccountKey(
        org_id=org_id,
        service_account_id=account.id,
        name=name,
        prefix=display_prefix(secret),
        secret_hash=hash_secret(secret, uow.settings.token_pepper),
        scopes=sorted(set(scopes)),
        allowed_ips=parse_networks(allowed_ips),
        allowed_origins=sorted({normalise_origin(o) for o in allowed_origins}),
        rate_limit_per_min=rate_limit_per_min,
        expires_at=expires_at,
        created_by=uow.actor.id,
    )
    uow.session.add(key)
    await uow.session.flush()
    await uow.session.refresh(key)
    await uow.emit(
        SERVICE_ACCOUNT_KEY_CREATED,
        subject=_subject(key),
        data={
            "service_account_id": str(account.id),
            "prefix": key.prefix,
            "scopes": key.scopes,
            "allowed_ips": [str(n) for n in key.allowed_ips],
            "rate_limit_per_min": rate_limit_per_min,
        },
        org_id=org_id,
    )
    return IssuedServiceAccountKey(key=to_dto(key), token=secret)


async def list_keys(
    uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[ServiceAccountKeyDTO]:
    await get_account(uow, org_id, account_id)
    stmt = select(ServiceAccountKey).where(
        ServiceAccountKey.org_id == org_id, ServiceAccountKey.service_account_id == account_id
    )
    rows = (
        await uow.session.execute(by_id(stmt, ServiceAccountKey.id, cursor=cursor, limit=limit))
    ).scalars()
    return page_of(list(rows), limit, lambda k: [str(k.id)], to_dto)


async def revoke_key(uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Revocation is effective on the key's next request. Revoking twice is a no-op."""
    ensure_writable(await lock_org(uow, org_id))
    key = await uow.session.get(ServiceAccountKey, key_id)
    if key is None or key.org_id != org_id or key.service_account_id != account_id:
        raise NotFound(f"key {key_id} does not exist", code="key_not_found")
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    await uow.session.flush()
    await uow.emit(
        SERVICE_ACCOUNT_KEY_REVOKED,
        subject=_subject(key),
        data={"service_account_id": str(account_id), "prefix": key.prefix},
        org_id=org_id,
    )


def _ip_allowed(networks: list[Network], source_ip: str | None) -> bool:
    if not networks:
        return True
    if source_ip is None:
        return False
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


CREDENTIALS_CACHE = "organization.credentials"
CREDENTIALS_TTL_SECONDS = 60.0
TOUCH_INTERVAL = timedelta(minutes=1)


class _KeyRecord(msgspec.Struct, frozen=True):
    """What a request needs of a service-account key, as cached per process (keyed by the
    secret's HMAC)."""

    id: uuid.UUID
    scopes: frozenset[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    allowed_ips: tuple[Network, ...]
    allowed_origins: frozenset[str]
    rate_limit_per_min: int | None
    last_used_at: datetime | None
    account_id: uuid.UUID
    org_id: uuid.UUID
    name: str
    disabled_at: datetime | None

    @property
    def tags(self) -> tuple[str, str, str]:
        return (
            f"service_account_key:{self.id}",
            f"service_account:{self.account_id}",
            f"organization:{self.org_id}",
        )


_KEY_LOOKUP = select(
    ServiceAccountKey.id,
    ServiceAccountKey.scopes,
    ServiceAccountKey.expires_at,
    ServiceAccountKey.revoked_at,
    ServiceAccountKey.allowed_ips,
    ServiceAccountKey.allowed_origins,
    ServiceAccountKey.rate_limit_per_min,
    ServiceAccountKey.last_used_at,
    ServiceAccount.id.label("account_id"),
    ServiceAccount.org_id,
    ServiceAccount.name,
    ServiceAccount.disabled_at,
).join(ServiceAccount, ServiceAccount.id == ServiceAccountKey.service_account_id)


def _credentials_cache(caches: HotCaches | None) -> HotCache[bytes, _KeyRecord] | None:
    return caches.cache(CREDENTIALS_CACHE, ttl_seconds=CREDENTIALS_TTL_SECONDS) if caches else None


async def _key_record(session: SessionSource, digest: bytes, caches: HotCaches | None) -> _KeyRecord | None:
    """From the hot cache, else from the database (then cached). Revoking the key, and any
    change to its account or organization, invalidate the entry (`invalidate_credentials`)."""
    cache = _credentials_cache(caches)
    record = cache.get(digest) if cache else None
    if record is None:
        ticket = cache.ticket() if cache else 0
        row = (await session().execute(_KEY_LOOKUP.where(ServiceAccountKey.secret_hash == digest))).first()
        if row is None:
            return None
        record = _KeyRecord(
            row.id, frozenset(row.scopes), row.expires_at, row.revoked_at, tuple(row.allowed_ips),
            frozenset(row.allowed_origins), row.rate_limit_per_min, row.last_used_at, row.account_id,
            row.org_id, row.name, row.disabled_at,
        )  # fmt: skip
        if cache:
            cache.put(digest, record, record.tags, ticket)
    return record


async def resolve_service_account_key(
    session: SessionSource, token: str, context: CredentialContext
) -> Principal | None:
    digest = hash_secret(token, context.pepper)
    cached = _credentials_cache(context.caches)
    if (cached is None or cached.get(digest) is None) and not secret_is_well_formed(
        token, SERVICE_ACCOUNT_KEY_PREFIX
    ):
        return None  # malformed: no database read (checked only for keys not in the cache)
    record = await _key_record(session, digest, context.caches)
    if record is None or record.revoked_at is not None or record.disabled_at is not None:
        return None
    now = utcnow()
    if record.expires_at is not None and record.expires_at <= now:
        return None
    if not _ip_allowed(list(record.allowed_ips), context.source_ip):
        raise Forbidden("this key may not be used from your IP address", code="ip_not_allowed")
    origin = normalise_origin(context.origin) if context.origin is not None else None
    if origin is not None and record.allowed_origins and origin not in record.allowed_origins:
        raise Forbidden("this key may not be used from this origin", code="origin_not_allowed")
    if record.last_used_at is None or record.last_used_at < now - TOUCH_INTERVAL:
        cache = _credentials_cache(context.caches)
        ticket = cache.ticket() if cache else 0
        await session().execute(_TOUCH, {"id": record.id})
        if cache:
            cache.put(digest, msgspec.structs.replace(record, last_used_at=now), record.tags, ticket)
    return Principal(
        type="service_account",
        id=record.account_id,
        name=record.name,
        org_id=record.org_id,
        scopes=record.scopes,
        credential_id=record.id,
        source_ip=context.source_ip,
        rate_limit_per_min=record.rate_limit_per_min,
    )


async def invalidate_credentials(uow: UnitOfWork, event: Event) -> None:
    """Subscriber to organization's events: drop cached keys of the changed key, account or
    organization."""
    await uow.invalidate(CREDENTIALS_CACHE, [f"{event.subject.type}:{event.subject.id}"])
