"""Persons: create, read, update and erase PII."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select, update

from modules.identity.contracts import (
    PERSON_CREATED,
    PERSON_ERASED,
    PERSON_UPDATED,
    PersonCreated,
    PersonDTO,
    PersonKind,
)
from modules.identity.models import Person, PersonalAccessToken, RetentionHold, User
from modules.identity.schemas import UpdatePerson
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.core.patching import apply_patch
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

ERASED_PERSON_NAME = "Erased person"
ERASED_USER_NAME = "Erased user"


def to_dto(person: Person) -> PersonDTO:
    return PersonDTO(
        id=person.id,
        kind=person.kind,  # type: ignore[arg-type]
        display_name=person.display_name,
        email=person.email,
        legal_name=person.legal_name,
        created_at=person.created_at,
        phone=person.phone,
        country=person.country,
        tax_id=person.tax_id,
        merged_into_id=person.merged_into_id,
        erased_at=person.erased_at,
        updated_at=person.updated_at,
    )


def normalise_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def actor_ref(uow: UnitOfWork) -> str:
    """Who did it, as stored in `placed_by`/`merged_by`: `person:<id>`, `system:keel`."""
    actor = uow.actor
    return f"{actor.type}:{actor.id or actor.name}"


def person_subject(person: Person) -> Subject:
    return Subject(type="person", id=str(person.id), name=person.display_name)


async def create_person(
    uow: UnitOfWork,
    *,
    kind: PersonKind,
    display_name: str,
    email: str | None = None,
    legal_name: str | None = None,
) -> PersonDTO:
    person = Person(
        kind=kind,
        display_name=display_name,
        email=normalise_email(email),
        legal_name=legal_name,
        created_by=uow.actor.id,
    )
    uow.session.add(person)
    await uow.session.flush()
    await uow.session.refresh(person, ["created_at", "updated_at"])
    await uow.emit(
        PERSON_CREATED,
        subject=person_subject(person),
        data=PersonCreated(person_id=person.id, kind=kind, display_name=display_name),
    )
    return to_dto(person)


async def load_person(uow: UnitOfWork, person_id: uuid.UUID, *, for_update: bool = False) -> Person:
    stmt = select(Person).where(Person.id == person_id)
    if for_update:
        stmt = stmt.with_for_update()
    person = (await uow.session.execute(stmt)).scalar_one_or_none()
    if person is None:
        raise NotFound(f"person {person_id} does not exist", code="person_not_found")
    return person


async def get_person(uow: UnitOfWork, person_id: uuid.UUID) -> PersonDTO:
    return to_dto(await load_person(uow, person_id))


def ensure_live(person: Person) -> None:
    """Merged and erased persons are records of the past: they are not changed any more."""
    if person.erased_at is not None:
        raise Conflict(f"person {person.id} was erased", code="person_erased")
    if person.merged_into_id is not None:
        raise Conflict(f"person {person.id} was merged into {person.merged_into_id}", code="person_merged")


async def update_person(uow: UnitOfWork, person_id: uuid.UUID, changes: UpdatePerson) -> PersonDTO:
    person = await load_person(uow, person_id, for_update=True)
    ensure_live(person)
    changed = sorted(apply_patch(person, changes, {"email": normalise_email}))
    if not changed:
        return to_dto(person)
    await uow.session.flush()
    await uow.session.refresh(person, ["updated_at"])
    # field names only: values are PII, and the audit log cannot forget them
    await uow.emit(
        PERSON_UPDATED,
        subject=person_subject(person),
        data={"person_id": str(person.id), "fields": changed},
    )
    return to_dto(person)


async def has_active_hold(uow: UnitOfWork, person_id: uuid.UUID) -> bool:
    active = exists().where(RetentionHold.person_id == person_id, RetentionHold.released_at.is_(None))
    return bool(await uow.session.scalar(select(active)))


async def erase_person(uow: UnitOfWork, person_id: uuid.UUID) -> PersonDTO:
    """Redact the person's PII, disable their logins and revoke their tokens. Refused while a
    retention hold is active; holds lock the person row too, so the check cannot race."""
    person = await load_person(uow, person_id, for_update=True)
    if person.erased_at is not None:
        return to_dto(person)
    if await has_active_hold(uow, person_id):
        raise Conflict(
            "an active retention hold requires this person's data to be kept",
            code="retention_hold_active",
        )
    now = utcnow()
    person.display_name = ERASED_PERSON_NAME
    person.legal_name = person.email = person.phone = person.country = person.tax_id = None
    person.erased_at = now
    users = await uow.session.execute(
        update(User)
        .where(User.person_id == person_id)
        .values(email=None, email_verified=False, display_name=ERASED_USER_NAME, status="disabled")
    )
    tokens = await uow.session.execute(
        update(PersonalAccessToken)
        .where(PersonalAccessToken.person_id == person_id, PersonalAccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await uow.session.flush()
    await uow.session.refresh(person, ["updated_at"])
    await uow.emit(
        PERSON_ERASED,
        subject=Subject(type="person", id=str(person.id)),
        data={
            "person_id": str(person.id),
            "users_disabled": users.rowcount,  # type: ignore[attr-defined]
            "tokens_revoked": tokens.rowcount,  # type: ignore[attr-defined]
        },
    )
    return to_dto(person)
