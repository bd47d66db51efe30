"""Role assignments: a role granted to a person or service account at organization or
workspace scope (and, for operators, at platform scope)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from modules.identity import api as identity_api
from modules.organization.contracts import (
    ROLE_ASSIGNED,
    ROLE_UNASSIGNED,
    SYSTEM_ROLE_OPERATOR,
    SYSTEM_ROLE_OWNER,
    PrincipalType,
    RoleAssignmentDTO,
    ScopeType,
)
from modules.organization.models import OrgMember, Role, RoleAssignment, ServiceAccount, Workspace
from modules.organization.services.common import ensure_writable, get_in_org, lock_org
from modules.organization.services.owners import ensure_other_owner
from modules.organization.services.paging import by_id
from modules.organization.services.roles import assignable_role, ensure_covers, system_role
from platform_core.core.errors import Conflict, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of


def to_dto(assignment: RoleAssignment, role_key: str) -> RoleAssignmentDTO:
    assert assignment.org_id is not None
    assert assignment.scope_id is not None
    return RoleAssignmentDTO(
        id=assignment.id,
        org_id=assignment.org_id,
        principal_type=assignment.principal_type,  # type: ignore[arg-type]
        principal_id=assignment.principal_id,
        role_id=assignment.role_id,
        role_key=role_key,
        scope_type=assignment.scope_type,  # type: ignore[arg-type]
        scope_id=assignment.scope_id,
        created_at=assignment.created_at,
    )


def _subject(principal_type: str, principal_id: uuid.UUID) -> Subject:
    return Subject(type=principal_type, id=str(principal_id))


async def assign(
    uow: UnitOfWork,
    *,
    org_id: uuid.UUID | None,
    principal_type: str,
    principal_id: uuid.UUID,
    role: Role,
    scope_type: str,
    scope_id: uuid.UUID | None,
) -> RoleAssignment:
    """Insert the assignment (no checks: callers validate); an existing one is returned."""
    existing = (
        await uow.session.execute(
            select(RoleAssignment).where(
                RoleAssignment.principal_type == principal_type,
                RoleAssignment.principal_id == principal_id,
                RoleAssignment.role_id == role.id,
                RoleAssignment.scope_type == scope_type,
                RoleAssignment.scope_id.is_(None)
                if scope_id is None
                else RoleAssignment.scope_id == scope_id,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    assignment = RoleAssignment(
        org_id=org_id,
        principal_type=principal_type,
        principal_id=principal_id,
        role_id=role.id,
        scope_type=scope_type,
        scope_id=scope_id,
        created_by=uow.actor.id,
    )
    uow.session.add(assignment)
    await uow.session.flush()
    await uow.session.refresh(assignment)
    await uow.emit(
        ROLE_ASSIGNED,
        subject=_subject(principal_type, principal_id),
        data={
            "assignment_id": str(assignment.id),
            "role_id": str(role.id),
            "role_key": role.key,
            "scope_type": scope_type,
            "scope_id": str(scope_id) if scope_id else None,
        },
        org_id=org_id,
    )
    return assignment


async def _check_principal(
    uow: UnitOfWork, org_id: uuid.UUID, principal_type: PrincipalType, principal_id: uuid.UUID
) -> None:
    if principal_type == "person":
        status = (
            await uow.session.execute(
                select(OrgMember.status).where(
                    OrgMember.org_id == org_id, OrgMember.person_id == principal_id
                )
            )
        ).scalar_one_or_none()
        if status in (None, "removed"):
            raise Unprocessable(
                f"person {principal_id} is not a member of this organization", code="not_a_member"
            )
    else:
        owner_org = (
            await uow.session.execute(select(ServiceAccount.org_id).where(ServiceAccount.id == principal_id))
        ).scalar_one_or_none()
        if owner_org != org_id:
            raise Unprocessable(
                f"service account {principal_id} does not belong to this organization",
                code="unknown_service_account",
            )


async def create_assignment(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    *,
    principal_type: PrincipalType,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    scope_type: ScopeType,
    scope_id: uuid.UUID | None,
) -> RoleAssignmentDTO:
    ensure_writable(await lock_org(uow, org_id))
    role = await assignable_role(uow, org_id, role_id)
    if scope_type == "organization":
        if scope_id not in (None, org_id):
            raise Unprocessable(
                "an organization-scope assignment's scope_id is the org id", code="invalid_scope"
            )
        scope_id = org_id
    else:
        if scope_id is None:
            raise Unprocessable("a workspace-scope assignment names its workspace", code="invalid_scope")
        ws = (
            await uow.session.execute(
                select(Workspace.id).where(Workspace.id == scope_id, Workspace.org_id == org_id)
            )
        ).scalar_one_or_none()
        if ws is None:
            raise Unprocessable(
                f"workspace {scope_id} does not exist in this organization", code="invalid_scope"
            )
        if role.key == SYSTEM_ROLE_OWNER and role.is_system:
            raise Unprocessable("the owner role is granted at organization scope", code="role_not_assignable")
    if principal_type == "service_account" and role.key == SYSTEM_ROLE_OWNER and role.is_system:
        raise Unprocessable("service accounts cannot be owners", code="role_not_assignable")
    await _check_principal(uow, org_id, principal_type, principal_id)
    await ensure_covers(uow, org_id, list(role.permissions))
    duplicate = (
        await uow.session.execute(
            select(RoleAssignment.id).where(
                RoleAssignment.principal_type == principal_type,
                RoleAssignment.principal_id == principal_id,
                RoleAssignment.role_id == role.id,
                RoleAssignment.scope_type == scope_type,
                RoleAssignment.scope_id == scope_id,
            )
        )
    ).first()
    if duplicate is not None:
        raise Conflict("this principal already holds this role at this scope", code="assignment_exists")
    assignment = await assign(
        uow,
        org_id=org_id,
        principal_type=principal_type,
        principal_id=principal_id,
        role=role,
        scope_type=scope_type,
        scope_id=scope_id,
    )
    return to_dto(assignment, role.key)


async def list_assignments(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    *,
    principal_id: uuid.UUID | None,
    role_id: uuid.UUID | None,
    scope_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[RoleAssignmentDTO]:
    stmt = (
        select(RoleAssignment, Role.key)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(RoleAssignment.org_id == org_id)
    )
    if principal_id is not None:
        stmt = stmt.where(RoleAssignment.principal_id == principal_id)
    if role_id is not None:
        stmt = stmt.where(RoleAssignment.role_id == role_id)
    if scope_id is not None:
        stmt = stmt.where(RoleAssignment.scope_id == scope_id)
    rows = list(await uow.session.execute(by_id(stmt, RoleAssignment.id, cursor=cursor, limit=limit)))
    return page_of(rows, limit, lambda r: [str(r[0].id)], lambda r: to_dto(r[0], r[1]))


async def delete_assignment(uow: UnitOfWork, org_id: uuid.UUID, assignment_id: uuid.UUID) -> None:
    ensure_writable(await lock_org(uow, org_id))
    assignment = await get_in_org(
        uow, RoleAssignment, org_id, assignment_id, "role assignment", "assignment_not_found"
    )
    role = await uow.session.get(Role, assignment.role_id)
    assert role is not None
    await ensure_covers(uow, org_id, list(role.permissions))
    if role.key == SYSTEM_ROLE_OWNER and role.is_system and assignment.principal_type == "person":
        await ensure_other_owner(uow, org_id, assignment.principal_id)
    await uow.session.delete(assignment)
    await uow.session.flush()
    await uow.emit(
        ROLE_UNASSIGNED,
        subject=_subject(assignment.principal_type, assignment.principal_id),
        data={
            "assignment_id": str(assignment.id),
            "role_id": str(role.id),
            "role_key": role.key,
            "scope_type": assignment.scope_type,
            "scope_id": str(assignment.scope_id),
        },
        org_id=org_id,
    )


async def grant_operator(uow: UnitOfWork, person_id: uuid.UUID) -> None:
    """Make a person a platform operator (CLI / bootstrap; no HTTP route grants it)."""
    await identity_api.get_person(uow, person_id)
    role = await system_role(uow, SYSTEM_ROLE_OPERATOR)
    await assign(
        uow,
        org_id=None,
        principal_type="person",
        principal_id=person_id,
        role=role,
        scope_type="platform",
        scope_id=None,
    )
