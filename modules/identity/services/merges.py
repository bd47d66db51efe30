"""Person merges: resolve a duplicate by folding a source person into a target person.

Identity re-points what it owns (tokens, Keycloak users, earlier merges into the source);
other modules re-point theirs by subscribing to `identity.person.merged`, in this transaction.
The source row stays, with `merged_into_id`, so history that names it still resolves."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from modules.identity.contracts import PERSON_MERGED, PersonMerged
from modules.identity.models import Person, PersonalAccessToken, PersonMerge, User
from modules.identity.schemas import PersonMergeDTO
from modules.identity.services.persons import actor_ref
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork


async def merge_person(
    uow: UnitOfWork, source_id: uuid.UUID, target_id: uuid.UUID, reason: str
) -> PersonMergeDTO:
    if source_id == target_id:
        raise Unprocessable("a person cannot be merged into itself", code="merge_into_self")
    # lock both rows in id order, so two merges touching the same pair cannot deadlock
    rows = (
        await uow.session.scalars(
            select(Person).where(Person.id.in_([source_id, target_id])).order_by(Person.id).with_for_update()
        )
    ).all()
    found = {p.id: p for p in rows}
    if source_id not in found:
        raise NotFound(f"person {source_id} does not exist", code="person_not_found")
    if target_id not in found:
        raise Unprocessable(f"target person {target_id} does not exist", code="merge_target_not_found")
    source, target = found[source_id], found[target_id]
    if source.merged_into_id is not None:
        raise Conflict(
            f"person {source_id} was already merged into {source.merged_into_id}", code="person_merged"
        )
    if target.merged_into_id is not None:
        raise Conflict(
            f"person {target_id} was merged into {target.merged_into_id}; merge into that person instead",
            code="merge_target_merged",
        )
    if target.erased_at is not None:
        raise Conflict(f"person {target_id} was erased", code="merge_target_erased")

    source.merged_into_id = target_id
    # persons merged into the source earlier now point at the surviving person directly
    await uow.session.execute(
        update(Person).where(Person.merged_into_id == source_id).values(merged_into_id=target_id)
    )
    await uow.session.execute(
        update(PersonalAccessToken)
        .where(PersonalAccessToken.person_id == source_id)
        .values(person_id=target_id)
    )
    await uow.session.execute(update(User).where(User.person_id == source_id).values(person_id=target_id))
    merge = PersonMerge(
        source_person_id=source_id, target_person_id=target_id, merged_by=actor_ref(uow), reason=reason
    )
    uow.session.add(merge)
    await uow.session.flush()
    await uow.session.refresh(merge, ["merged_at"])
    await uow.emit(
        PERSON_MERGED,
        subject=Subject(type="person", id=str(source_id), name=source.display_name),
        data=PersonMerged(source_person_id=source_id, target_person_id=target_id),
    )
    return PersonMergeDTO(
        id=merge.id,
        source_person_id=source_id,
        target_person_id=target_id,
        merged_by=merge.merged_by,
        reason=reason,
        merged_at=merge.merged_at,
    )
