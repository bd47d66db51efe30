"""Retention holds: a legal obligation to keep a person's PII, placed and released by
platform operators. Erasure is refused while one is active."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from modules.identity.contracts import RETENTION_HOLD_PLACED, RETENTION_HOLD_RELEASED
from modules.identity.models import RetentionHold
from modules.identity.schemas import PlaceRetentionHold, RetentionHoldDTO
from modules.identity.services.persons import actor_ref, load_person
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork


def to_dto(hold: RetentionHold) -> RetentionHoldDTO:
    return RetentionHoldDTO(
        id=hold.id,
        person_id=hold.person_id,
        reason=hold.reason,
        authority=hold.authority,
        reference=hold.reference,
        placed_by=hold.placed_by,
        placed_at=hold.placed_at,
        released_by=hold.released_by,
        released_at=hold.released_at,
        active=hold.released_at is None,
    )


def _subject(hold: RetentionHold) -> Subject:
    return Subject(type="retention_hold", id=str(hold.id), name=hold.authority)


async def place_hold(uow: UnitOfWork, person_id: uuid.UUID, body: PlaceRetentionHold) -> RetentionHoldDTO:
    # the person row lock orders this against a concurrent erasure of the same person
    person = await load_person(uow, person_id, for_update=True)
    if person.erased_at is not None:
        raise Conflict("the person's data was already erased", code="person_erased")
    hold = RetentionHold(
        person_id=person_id,
        reason=body.reason,
        authority=body.authority,
        reference=body.reference,
        placed_by=actor_ref(uow),
        placed_at=utcnow(),
    )
    uow.session.add(hold)
    await uow.session.flush()
    await uow.emit(
        RETENTION_HOLD_PLACED,
        subject=_subject(hold),
        data={"person_id": str(person_id), "authority": hold.authority, "reference": hold.reference},
    )
    return to_dto(hold)


async def release_hold(uow: UnitOfWork, person_id: uuid.UUID, hold_id: uuid.UUID) -> RetentionHoldDTO:
    hold = (
        await uow.session.execute(
            select(RetentionHold)
            .where(RetentionHold.id == hold_id, RetentionHold.person_id == person_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if hold is None:
        raise NotFound(f"retention hold {hold_id} does not exist", code="retention_hold_not_found")
    if hold.released_at is not None:
        raise Conflict("the retention hold was already released", code="retention_hold_released")
    hold.released_at = utcnow()
    hold.released_by = actor_ref(uow)
    await uow.session.flush()
    await uow.emit(
        RETENTION_HOLD_RELEASED,
        subject=_subject(hold),
        data={"person_id": str(person_id)},
    )
    return to_dto(hold)


async def list_holds(uow: UnitOfWork, person_id: uuid.UUID) -> list[RetentionHoldDTO]:
    await load_person(uow, person_id)
    rows = await uow.session.scalars(
        select(RetentionHold).where(RetentionHold.person_id == person_id).order_by(RetentionHold.id)
    )
    return [to_dto(h) for h in rows]
