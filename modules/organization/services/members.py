"""Members: join (from organization creation or an invitation), list, suspend, reactivate,
remove. Taking away the last active owner is refused (see `owners`)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from modules.organization.contracts import (
    MEMBER_ADDED,
    MEMBER_REACTIVATED,
    MEMBER_REMOVED,
    MEMBER_SUSPENDED,
    MemberDTO,
    MemberStatus,
)
from modules.organization.models import OrgMember, Role, RoleAssignment
from modules.organization.services.common import ensure_writable, lock_org
from modules.organization.services.owners import ensure_other_owner
from modules.organization.services.paging import by_id
from modules.organization.services.roles import ensure_covers
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of


def _subject(member: OrgMember) -> Subject:
    return Subject(type="person", id=str(member.person_id))


def _not_found(person_id: uuid.UUID) -> NotFound:
    return NotFound(f"person {person_id} is not a member of this organization", code="member_not_found")


async def _org_roles(
    uow: UnitOfWork, org_id: uuid.UUID, person_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    rows = await uow.session.execute(
        select(RoleAssignment.principal_id, Role.key)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(
            RoleAssignment.principal_type == "person",
            RoleAssignment.principal_id.in_(person_ids),
            RoleAssignment.scope_type == "organization",
            RoleAssignment.scope_id == org_id,
        )
        .order_by(Role.key)
    )
    out: dict[uuid.UUID, list[str]] = {}
    for person_id, key in rows:
        out.setdefault(person_id, []).append(key)
    return out


def _dto(member: OrgMember, roles: list[str]) -> MemberDTO:
    return MemberDTO(
        id=member.id,
        org_id=member.org_id,
        person_id=member.person_id,
        status=member.status,  # type: ignore[arg-type]
        invited_by=member.invited_by,
        roles=roles,
        created_at=member.created_at,
        updated_at=member.updated_at,
    )


async def to_dto(uow: UnitOfWork, member: OrgMember) -> MemberDTO:
    roles = await _org_roles(uow, member.org_id, [member.person_id])
    return _dto(member, roles.get(member.person_id, []))


async def find_member(uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID) -> OrgMember | None:
    return (
        await uow.session.execute(
            select(OrgMember)
            .where(OrgMember.org_id == org_id, OrgMember.person_id == person_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def add_member(
    uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID, *, invited_by: uuid.UUID | None
) -> OrgMember:
    """Makes the person an active member; a removed member comes back, a suspended one is
    refused (suspension is lifted explicitly), an active one is left as is."""
    inserted = (
        await uow.session.execute(
            insert(OrgMember)
            .values(org_id=org_id, person_id=person_id, status="active", invited_by=invited_by)
            .on_conflict_do_nothing(index_elements=[OrgMember.org_id, OrgMember.person_id])
            .returning(OrgMember.id)
        )
    ).scalar_one_or_none()
    member = await find_member(uow, org_id, person_id)
    assert member is not None
    if inserted is None:
        if member.status == "suspended":
            raise Conflict("this person is a suspended member of the organization", code="member_suspended")
        if member.status == "active":
            return member
        member.status = "active"
        member.invited_by = invited_by
        await uow.session.flush()
        await uow.session.refresh(member)
    await uow.emit(
        MEMBER_ADDED,
        subject=_subject(member),
        data={"person_id": str(person_id), "invited_by": str(invited_by) if invited_by else None},
        org_id=org_id,
    )
    return member


async def list_members(
    uow: UnitOfWork, org_id: uuid.UUID, *, status: MemberStatus | None, limit: int, cursor: str | None
) -> Page[MemberDTO]:
    stmt = select(OrgMember).where(OrgMember.org_id == org_id)
    if status is not None:
        stmt = stmt.where(OrgMember.status == status)
    rows = list((await uow.session.execute(by_id(stmt, OrgMember.id, cursor=cursor, limit=limit))).scalars())
    roles = await _org_roles(uow, org_id, [m.person_id for m in rows])
    return page_of(rows, limit, lambda m: [str(m.id)], lambda m: _dto(m, roles.get(m.person_id, [])))


async def get_member(uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID) -> MemberDTO:
    member = await find_member(uow, org_id, person_id)
    if member is None:
        raise _not_found(person_id)
    return await to_dto(uow, member)


async def _for_change(uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID) -> OrgMember:
    """Lock the organization, then load the member and make sure the caller outranks it."""
    ensure_writable(await lock_org(uow, org_id))
    member = await find_member(uow, org_id, person_id)
    if member is None or member.status == "removed":
        raise _not_found(person_id)
    held = await uow.session.execute(
        select(Role.permissions)
        .join(RoleAssignment, RoleAssignment.role_id == Role.id)
        .where(
            RoleAssignment.principal_type == "person",
            RoleAssignment.principal_id == person_id,
            RoleAssignment.org_id == org_id,
        )
    )
    await ensure_covers(uow, org_id, sorted({entry for (entries,) in held for entry in entries}))
    return member


async def suspend_member(uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID) -> MemberDTO:
    member = await _for_change(uow, org_id, person_id)
    if member.status == "suspended":
        return await to_dto(uow, member)
    await ensure_other_owner(uow, org_id, person_id)
    member.status = "suspended"
    await uow.session.flush()
    await uow.session.refresh(member)
    await uow.emit(
        MEMBER_SUSPENDED, subject=_subject(member), data={"person_id": str(person_id)}, org_id=org_id
    )
    return await to_dto(uow, member)


async def reactivate_member(uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID) -> MemberDTO:
    member = await _for_change(uow, org_id, person_id)
    if member.status == "active":
        return await to_dto(uow, member)
    member.status = "active"
    await uow.session.flush()
    await uow.session.refresh(member)
    await uow.emit(
        MEMBER_REACTIVATED, subject=_subject(member), data={"person_id": str(person_id)}, org_id=org_id
    )
    return await to_dto(uow, member)


async def remove_member(uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID) -> None:
    """The membership row stays (status `removed`, for history); the person's role
    assignments in the organization are withdrawn."""
    member = await _for_change(uow, org_id, person_id)
    await ensure_other_owner(uow, org_id, person_id)
    member.status = "removed"
    withdrawn = list(
        (
            await uow.session.execute(
                delete(RoleAssignment)
                .where(
                    RoleAssignment.principal_type == "person",
                    RoleAssignment.principal_id == person_id,
                    RoleAssignment.org_id == org_id,
                )
                .returning(RoleAssignment.id)
            )
        ).scalars()
    )
    await uow.session.flush()
    await uow.emit(
        MEMBER_REMOVED,
        subject=_subject(member),
        data={"person_id": str(person_id), "assignments_withdrawn": [str(i) for i in withdrawn]},
        org_id=org_id,
    )
