"""Persons: create and read."""

from __future__ import annotations

import uuid

from modules.identity.contracts import PERSON_CREATED, PersonCreated, PersonDTO, PersonKind
from modules.identity.models import Person
from platform_core.errors import NotFound
from platform_core.events import Subject
from platform_core.uow import UnitOfWork


def to_dto(person: Person) -> PersonDTO:
    return PersonDTO(
        id=person.id,
        kind=person.kind,  # type: ignore[arg-type]
        display_name=person.display_name,
        email=person.email,
        legal_name=person.legal_name,
        created_at=person.created_at,
    )


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
        email=email.strip().lower() if email else None,
        legal_name=legal_name,
        created_by=uow.actor.id,
    )
    uow.session.add(person)
    await uow.session.flush()
    await uow.session.refresh(person, ["created_at"])
    await uow.emit(
        PERSON_CREATED,
        subject=Subject(type="person", id=str(person.id), name=display_name),
        data=PersonCreated(person_id=person.id, kind=kind, display_name=display_name),
    )
    return to_dto(person)


async def get_person(uow: UnitOfWork, person_id: uuid.UUID) -> PersonDTO:
    person = await uow.session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist", code="person_not_found")
    return to_dto(person)
