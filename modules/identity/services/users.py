"""Users: Keel's mirror of Keycloak accounts, each acting as one person.

Two ways in, one upsert: the first valid access token of a `sub` provisions the user and its
person (just-in-time), later tokens bring email and name up to date; an operator may also post
a batch of Keycloak UserRepresentations. Keycloak is the source of truth for a user's email and
name: a change there is copied onto the person too, while a name the person set in Keel stays
until Keycloak's changes. Erased persons get nothing written back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from modules.identity.contracts import (
    PERSON_CREATED,
    PERSON_UPDATED,
    USER_CREATED,
    USER_UPDATED,
    PersonCreated,
)
from modules.identity.models import Person, User
from modules.identity.schemas import KeycloakUser, SyncResult
from modules.identity.services.hot_reads import fetch_row
from modules.identity.services.persons import normalise_email, person_subject
from platform_core.core.clock import utcnow
from platform_core.core.principal import Principal
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

MAX_NAME = 200
MAX_EMAIL = 320


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """What Keycloak says about an account, from either a token or a UserRepresentation."""

    sub: str
    email: str | None
    email_verified: bool
    display_name: str
    enabled: bool = True


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _display_name(*candidates: str | None, fallback: str) -> str:
    for candidate in candidates:
        if candidate:
            return candidate[:MAX_NAME]
    return fallback[:MAX_NAME]


def _email(value: Any) -> str | None:
    email = normalise_email(_text(value))
    return email if email and len(email) <= MAX_EMAIL and "@" in email else None


def profile_from_claims(claims: dict[str, Any]) -> Profile:
    given, family = _text(claims.get("given_name")), _text(claims.get("family_name"))
    full = " ".join(p for p in (given, family) if p) or None
    email = _email(claims.get("email"))
    return Profile(
        sub=claims["sub"],
        email=email,
        email_verified=claims.get("email_verified") is True,
        display_name=_display_name(
            _text(claims.get("name")), full, _text(claims.get("preferred_username")), email,
            fallback=claims["sub"],
        ),
    )  # fmt: skip


def profile_from_keycloak(user: KeycloakUser) -> Profile:
    full = " ".join(p for p in (_text(user.first_name), _text(user.last_name)) if p) or None
    email = _email(user.email)
    return Profile(
        sub=user.id,
        email=email,
        email_verified=user.email_verified,
        display_name=_display_name(full, _text(user.username), email, fallback=user.id),
        enabled=user.enabled,
    )


def _user_subject(user: User) -> Subject:
    return Subject(type="user", id=str(user.id), name=user.display_name)


async def _find(uow: UnitOfWork, sub: str) -> tuple[User, Person] | None:
    row = (
        await uow.session.execute(
            select(User, Person).join(Person, Person.id == User.person_id).where(User.keycloak_sub == sub)
        )
    ).first()
    return None if row is None else (row[0], row[1])


class _LostRace(Exception):
    """A concurrent request created the same user first."""


async def _provision(
    uow: UnitOfWork, profile: Profile, login_at: datetime | None
) -> tuple[User, Person] | None:
    """Create the person and the user; None if a concurrent request created the user first
    (the savepoint then drops the orphan person, and the winner's user is read instead)."""
    try:
        async with uow.session.begin_nested():
            person = Person(
                kind="individual",
                display_name=profile.display_name,
                email=profile.email,
                created_by=uow.actor.id,
            )
            uow.session.add(person)
            await uow.session.flush()
            user_id = await uow.session.scalar(
                insert(User)
                .values(
                    keycloak_sub=profile.sub,
                    email=profile.email,
                    email_verified=profile.email_verified,
                    display_name=profile.display_name,
                    status="active" if profile.enabled else "disabled",
                    person_id=person.id,
                    last_login_at=login_at,
                    synced_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=[User.keycloak_sub])
                .returning(User.id)
            )
            if user_id is None:
                raise _LostRace
    except _LostRace:
        return None
    user = await uow.session.get_one(User, user_id)
    await uow.session.refresh(person, ["created_at", "updated_at"])
    return user, person


async def _announce_creation(uow: UnitOfWork, user: User, person: Person) -> None:
    await uow.emit(
        PERSON_CREATED,
        subject=person_subject(person),
        data=PersonCreated(person_id=person.id, kind=person.kind, display_name=person.display_name),
    )
    await uow.emit(
        USER_CREATED,
        subject=_user_subject(user),
        data={"person_id": str(person.id), "keycloak_sub": user.keycloak_sub},
    )


async def _apply(uow: UnitOfWork, user: User, person: Person, profile: Profile, *, from_sync: bool) -> bool:
    """Bring an existing user (and its person) up to date; True when something changed."""
    erased = person.erased_at is not None
    wanted: dict[str, Any] = {}
    if not erased:
        wanted = {
            "email": profile.email,
            "email_verified": profile.email_verified,
            "display_name": profile.display_name,
        }
    if from_sync:
        # only Keycloak's `enabled` moves the status, and never re-enables an erased person
        wanted["status"] = "active" if profile.enabled and not erased else "disabled"
    user_changes = sorted(k for k, v in wanted.items() if getattr(user, k) != v)
    person_changes: list[str] = []
    if not erased and person.merged_into_id is None:
        if "email" in user_changes and person.email != profile.email:
            person_changes.append("email")
        if "display_name" in user_changes and person.display_name != profile.display_name:
            person_changes.append("display_name")
    if not user_changes and not from_sync:
        return False
    for name in user_changes:
        setattr(user, name, wanted[name])
    user.synced_at = utcnow()
    for name in person_changes:
        setattr(person, name, wanted[name])
    await uow.session.flush()
    if user_changes:
        await uow.emit(
            USER_UPDATED,
            subject=_user_subject(user),
            data={"person_id": str(person.id), "fields": user_changes},
        )
    if person_changes:
        await uow.emit(
            PERSON_UPDATED,
            subject=person_subject(person),
            data={"person_id": str(person.id), "fields": sorted(person_changes)},
        )
    return bool(user_changes)


def _as_person(uow: UnitOfWork, person: Person, user: User) -> None:
    """Events of a login are the person's own doing (the sync endpoint keeps its operator)."""
    if uow.principal is None:
        uow.principal = Principal(
            type="person", id=person.id, name=person.display_name, credential_id=user.id
        )


class Login(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    active: bool


_CURRENT = """
    SELECT u.id, u.status, u.email, u.email_verified, u.display_name, u.last_login_at,
           p.id AS person_id, p.display_name AS person_name
      FROM identity.users u JOIN identity.persons p ON p.id = u.person_id
     WHERE u.keycloak_sub = $1"""


async def login(
    session: AsyncSession, profile: Profile, login_at: datetime | None, make_uow: Callable[[], UnitOfWork]
) -> Login:
    """The user a verified access token belongs to, synced just in time. The common case, a
    known user whose token says nothing new, is one read; anything else goes through
    `sync_from_token` on a unit of work from `make_uow`."""
    row = await fetch_row(session, _CURRENT, profile.sub)
    if (
        row is not None
        and (row["email"], row["email_verified"], row["display_name"])
        == (profile.email, profile.email_verified, profile.display_name)
        and (login_at is None or (row["last_login_at"] is not None and row["last_login_at"] >= login_at))
    ):
        return Login(
            user_id=row["id"],
            person_id=row["person_id"],
            person_name=row["person_name"],
            active=row["status"] == "active",
        )
    user, person = await sync_from_token(make_uow(), profile, login_at)
    return Login(
        user_id=user.id, person_id=person.id, person_name=person.display_name, active=user.status == "active"
    )


async def sync_from_token(
    uow: UnitOfWork, profile: Profile, login_at: datetime | None
) -> tuple[User, Person]:
    """Just-in-time sync for a verified access token. Writes only when something changed."""
    found = await _find(uow, profile.sub)
    if found is None:
        created = await _provision(uow, profile, login_at)
        if created is not None:
            _as_person(uow, created[1], created[0])
            await _announce_creation(uow, *created)
            return created
        found = await _find(uow, profile.sub)
        assert found is not None, "the concurrent insert that won is committed and visible"
    user, person = found
    _as_person(uow, person, user)
    await _apply(uow, user, person, profile, from_sync=False)
    active = user.status == "active"
    if active and login_at is not None and (user.last_login_at is None or login_at > user.last_login_at):
        user.last_login_at = login_at  # bookkeeping, like a token's last_used_at: no event
        await uow.session.flush()
    return user, person


async def sync_batch(uow: UnitOfWork, users: list[KeycloakUser]) -> SyncResult:
    """Upsert a batch of Keycloak UserRepresentations (the last one wins for a repeated id)."""
    profiles = {u.id: profile_from_keycloak(u) for u in users}
    created = updated = unchanged = 0
    for profile in profiles.values():
        found = await _find(uow, profile.sub)
        if found is None:
            made = await _provision(uow, profile, None)
            if made is not None:
                await _announce_creation(uow, *made)
                created += 1
                continue
            found = await _find(uow, profile.sub)
            assert found is not None
        if await _apply(uow, *found, profile, from_sync=True):
            updated += 1
        else:
            unchanged += 1
    return SyncResult(created=created, updated=updated, unchanged=unchanged)
