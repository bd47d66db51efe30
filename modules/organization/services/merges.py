"""identity merged one person into another: move memberships and role assignments from the
source to the target inside the merge's own transaction."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import select

from modules.identity.contracts import PersonMerged
from modules.organization.contracts import MEMBERSHIPS_REPOINTED
from modules.organization.models import OrgMember, RoleAssignment
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork

# when both persons belong to an organization, the stronger membership status wins
_RANK = {"active": 2, "suspended": 1, "removed": 0}


async def on_person_merged(uow: UnitOfWork, event: Event) -> None:
    merged = msgspec.convert(event.data, PersonMerged)
    source, target = merged.source_person_id, merged.target_person_id
    session = uow.session
    rows = (
        await session.execute(
            select(OrgMember)
            .where(OrgMember.person_id == source)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalars()
    touched: dict[uuid.UUID, list[str]] = {}
    for membership in list(rows):
        existing = (
            await session.execute(
                select(OrgMember)
                .where(OrgMember.org_id == membership.org_id, OrgMember.person_id == target)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if existing is None:
            membership.person_id = target
        else:
            if _RANK[membership.status] > _RANK[existing.status]:
                existing.status = membership.status
            await session.delete(membership)
        touched.setdefault(membership.org_id, [])
    await session.flush()

    assignments = (
        await session.execute(
            select(RoleAssignment).where(
                RoleAssignment.principal_type == "person", RoleAssignment.principal_id == source
            )
        )
    ).scalars()
    for assignment in list(assignments):
        duplicate = (
            await session.execute(
                select(RoleAssignment.id).where(
                    RoleAssignment.principal_type == "person",
                    RoleAssignment.principal_id == target,
                    RoleAssignment.role_id == assignment.role_id,
                    RoleAssignment.scope_type == assignment.scope_type,
                    RoleAssignment.scope_id.is_(None)
                    if assignment.scope_id is None
                    else RoleAssignment.scope_id == assignment.scope_id,
                )
            )
        ).first()
        if duplicate is None:
            assignment.principal_id = target
        else:
            await session.delete(assignment)
        if assignment.org_id is not None:
            touched.setdefault(assignment.org_id, []).append(str(assignment.id))
    await session.flush()

    for org_id, assignment_ids in touched.items():
        await uow.emit(
            MEMBERSHIPS_REPOINTED,
            subject=Subject(type="person", id=str(target)),
            data={
                "source_person_id": str(source),
                "target_person_id": str(target),
                "assignment_ids": assignment_ids,
            },
            org_id=org_id,
        )
