"""Personal access tokens: issue, list, revoke, and resolve a bearer token into a Principal.

A token is looked up by its peppered HMAC, in the process's hot cache first (see
`platform_core.cache.hot_cache`): a revocation commits a cache invalidation with it, so it is effective
on the very next request in every process. `last_used_at` is written at most once a minute per
token and process, not on every request."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import bindparam, select, update

from modules.identity.contracts import PERSON_MERGED, TOKEN_CREATED, TOKEN_REVOKED, IssuedToken
from modules.identity.models import PersonalAccessToken
from modules.identity.schemas import TokenInfo
from modules.identity.services.hot_reads import fetch_row
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
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE, Principal
from platform_core.http.auth import scope_allows
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

PAT_PREFIX = "keel_pat"
TOUCH_INTERVAL = timedelta(minutes=1)


def _subject(token_id: uuid.UUID, name: str) -> Subject:
    return Subject(type="personal_access_token", id=str(token_id), name=name)


async def issue_token(
    uow: UnitOfWork,
    *,
    person_id: uuid.UUID,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> IssuedToken:
    secret = new_secret(PAT_PREFIX)
    token = PersonalAccessToken(
        person_id=person_id,
        name=name,
        prefix=display_prefix(secret),
        secret_hash=hash_secret(secret, uow.settings.token_pepper),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    uow.session.add(token)
    await uow.session.flush()
    await uow.emit(
        TOKEN_CREATED,
        subject=_subject(token.id, name),
        data={"person_id": str(person_id), "prefix": token.prefix, "scopes": token.scopes},
    )
    return IssuedToken(
        id=token.id,
        person_id=person_id,
        name=name,
        prefix=token.prefix,
        token=secret,
        scopes=token.scopes,
        expires_at=expires_at,
    )


def check_grantable(principal: Principal, scopes: list[str]) -> None:
    """A caller can hand a new token at most the scopes its own credential has: each requested
    scope, wildcards read literally, must be allowed by the caller's scopes."""
    if principal.is_platform_admin:
        return
    for scope in scopes:
        if scope == PLATFORM_ADMIN_SCOPE or not scope_allows(principal, scope):
            raise Forbidden(f"your credential cannot grant the scope {scope!r}", code="scope_escalation")


async def issue_own_token(
    uow: UnitOfWork, principal: Principal, *, name: str, scopes: list[str], expires_at: datetime | None
) -> IssuedToken:
    if expires_at is not None and expires_at <= utcnow():
        raise Unprocessable(
            "expires_at must be in the future",
            code="expires_in_past",
            errors=[{"field": "expires_at", "source": "body", "message": "in the past"}],
        )
    check_grantable(principal, scopes)
    return await issue_token(uow, person_id=principal.id, name=name, scopes=scopes, expires_at=expires_at)


def _info(token: PersonalAccessToken) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scopes=list(token.scopes),
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        created_at=token.created_at,
    )


async def list_tokens(
    uow: UnitOfWork, person_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[TokenInfo]:
    stmt = keyset(
        select(PersonalAccessToken).where(PersonalAccessToken.person_id == person_id),
        [PersonalAccessToken.__table__.c.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )
    rows = (await uow.session.scalars(stmt)).all()
    return page_of(rows, limit, key_of=lambda t: [str(t.id)], convert=_info)


async def revoke_token(uow: UnitOfWork, person_id: uuid.UUID, token_id: uuid.UUID) -> None:
    token = (
        await uow.session.execute(
            select(PersonalAccessToken)
            .where(PersonalAccessToken.id == token_id, PersonalAccessToken.person_id == person_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if token is None:
        raise NotFound(f"token {token_id} does not exist", code="token_not_found")
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    await uow.session.flush()
    await uow.emit(
        TOKEN_REVOKED,
        subject=_subject(token.id, token.name),
        data={"person_id": str(person_id), "prefix": token.prefix},
    )


_LOOKUP = """
    SELECT t.id, t.scopes, t.expires_at, t.revoked_at, t.last_used_at, p.id AS person_id, p.display_name
      FROM identity.personal_access_tokens t JOIN identity.persons p ON p.id = t.person_id
     WHERE t.secret_hash = $1"""
_TOUCH = (
    update(PersonalAccessToken)
    .where(PersonalAccessToken.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)


CREDENTIALS_CACHE = "identity.credentials"
CREDENTIALS_TTL_SECONDS = 60.0


class _PatRecord(msgspec.Struct, frozen=True):
    """What a request needs of a token, as cached per process (keyed by the secret's HMAC)."""

    id: uuid.UUID
    scopes: frozenset[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    person_id: uuid.UUID
    display_name: str

    @property
    def tags(self) -> tuple[str, str]:
        return (f"personal_access_token:{self.id}", f"person:{self.person_id}")


def _credentials_cache(caches: HotCaches | None) -> HotCache[bytes, _PatRecord] | None:
    return caches.cache(CREDENTIALS_CACHE, ttl_seconds=CREDENTIALS_TTL_SECONDS) if caches else None


async def _pat_record(session: SessionSource, digest: bytes, caches: HotCaches | None) -> _PatRecord | None:
    """From the hot cache, else from the database (then cached). Revoking a token, and any
    change to its person, invalidate the entry (`invalidate_credentials`)."""
    cache = _credentials_cache(caches)
    record = cache.get(digest) if cache else None
    if record is None:
        ticket = cache.ticket() if cache else 0
        row = await fetch_row(session(), _LOOKUP, digest)
        if row is None:
            return None
        record = _PatRecord(
            row["id"], frozenset(row["scopes"]), row["expires_at"], row["revoked_at"], row["last_used_at"],
            row["person_id"], row["display_name"],
        )  # fmt: skip
        if cache:
            cache.put(digest, record, record.tags, ticket)
    return record


async def resolve_pat(session: SessionSource, token: str, context: CredentialContext) -> Principal | None:
    digest = hash_secret(token, context.pepper)
    cached = _credentials_cache(context.caches)
    if (cached is None or cached.get(digest) is None) and not secret_is_well_formed(token, PAT_PREFIX):
        return None  # malformed: no database read (checked only for tokens not in the cache)
    record = await _pat_record(session, digest, context.caches)
    if record is None or record.revoked_at is not None:
        return None
    now = utcnow()
    if record.expires_at is not None and record.expires_at <= now:
        return None
    if record.last_used_at is None or record.last_used_at < now - TOUCH_INTERVAL:
        cache = _credentials_cache(context.caches)
        ticket = cache.ticket() if cache else 0
        await session().execute(_TOUCH, {"token_id": record.id, "now": now})
        if cache:
            cache.put(digest, msgspec.structs.replace(record, last_used_at=now), record.tags, ticket)
    return Principal(
        type="person",
        id=record.person_id,
        name=record.display_name,
        scopes=record.scopes,
        credential_id=record.id,
        source_ip=context.source_ip,
    )


async def invalidate_credentials(uow: UnitOfWork, event: Event) -> None:
    """Subscriber to identity's events: drop cached tokens of the changed token or person (a
    merge moves tokens between persons: everything)."""
    if event.type == PERSON_MERGED:
        await uow.invalidate(CREDENTIALS_CACHE)
    else:
        await uow.invalidate(CREDENTIALS_CACHE, [f"{event.subject.type}:{event.subject.id}"])
