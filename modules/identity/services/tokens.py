"""Personal access tokens: issue, and resolve a bearer token into a Principal."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from modules.identity.contracts import TOKEN_CREATED, IssuedToken
from modules.identity.models import Person, PersonalAccessToken
from platform_core.auth import (
    CredentialContext,
    Principal,
    display_prefix,
    hash_secret,
    new_secret,
    secret_is_well_formed,
)
from platform_core.clock import utcnow
from platform_core.events import Subject
from platform_core.uow import UnitOfWork

PAT_PREFIX = "keel_pat"

_TOUCH = text(
    """UPDATE identity.personal_access_tokens SET last_used_at = now()
        WHERE id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')"""
)


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
        subject=Subject(type="personal_access_token", id=str(token.id), name=name),
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


async def resolve_pat(session: AsyncSession, token: str, context: CredentialContext) -> Principal | None:
    if not secret_is_well_formed(token, PAT_PREFIX):
        return None
    row = (
        await session.execute(
            select(
                PersonalAccessToken.id,
                PersonalAccessToken.scopes,
                PersonalAccessToken.expires_at,
                PersonalAccessToken.revoked_at,
                Person.id.label("person_id"),
                Person.display_name,
            )
            .join(Person, Person.id == PersonalAccessToken.person_id)
            .where(PersonalAccessToken.secret_hash == hash_secret(token, context.pepper))
        )
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    await session.execute(_TOUCH, {"id": row.id})
    return Principal(
        type="person",
        id=row.person_id,
        name=row.display_name,
        scopes=frozenset(row.scopes),
        credential_id=row.id,
        source_ip=context.source_ip,
    )
