"""Roles: read-only system roles and per-organization custom roles.

Nobody can hand out more than they hold: creating, changing, deleting or assigning a role
requires the caller's own permissions to cover every entry of that role."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select

from modules.organization import permissions as perms
from modules.organization.contracts import (
    ROLE_CREATED,
    ROLE_DELETED,
    ROLE_UPDATED,
    SYSTEM_ROLE_OPERATOR,
    RoleDTO,
)
from modules.organization.models import Invitation, Role, RoleAssignment
from modules.organization.services.authz import principal_entries
from modules.organization.services.common import ensure_writable, lock_org
from modules.organization.services.paging import by_id
from platform_core.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of


def to_dto(role: Role) -> RoleDTO:
    return RoleDTO(
        id=role.id,
        org_id=role.org_id,
        key=role.key,
        name=role.name,
        description=role.description,
        permissions=list(role.permissions),
        is_system=role.is_system,
        created_at=role.created_at,
        updated_at=role.updated_at,
    )


def _subject(role: Role) -> Subject:
    return Subject(type="role", id=str(role.id), name=role.key)


def _role_not_found(role_id: uuid.UUID) -> NotFound:
    return NotFound(f"role {role_id} does not exist in this organization", code="role_not_found")


async def system_role(uow: UnitOfWork, key: str) -> Role:
    role = (
        await uow.session.execute(select(Role).where(Role.key == key, Role.org_id.is_(None)))
    ).scalar_one_or_none()
    if role is None:  # seeded by the migration
        raise RuntimeError(f"system role {key!r} is missing")
    return role


async def visible_role(uow: UnitOfWork, org_id: uuid.UUID, role_id: uuid.UUID) -> Role:
    """A system role or one of the organization's own custom roles."""
    role = await uow.session.get(Role, role_id)
    if role is None or (role.org_id is not None and role.org_id != org_id):
        raise _role_not_found(role_id)
    return role


async def assignable_role(uow: UnitOfWork, org_id: uuid.UUID, role_id: uuid.UUID) -> Role:
    role = await visible_role(uow, org_id, role_id)
    if role.key == SYSTEM_ROLE_OPERATOR and role.is_system:
        raise Unprocessable(
            "the operator role is assigned at platform scope only", code="role_not_assignable"
        )
    return role


async def ensure_covers(uow: UnitOfWork, org_id: uuid.UUID, entries: list[str]) -> None:
    principal = uow.principal
    if principal is None:  # system jobs act with full authority
        return
    held = await principal_entries(uow.session, principal, org_id)
    missing = [e for e in entries if not perms.any_grants(held, e)]
    if missing:
        raise Forbidden(
            "you cannot grant or withdraw permissions you do not hold: " + ", ".join(sorted(missing)),
            code="privilege_escalation",
        )


def _check_entries(entries: list[str]) -> list[str]:
    bad = [e for e in entries if not perms.is_valid_entry(e)]
    if bad:
        raise Unprocessable(
            "permissions read `<module>.<resource>:<action>` (any part may be `*`), or `*`",
            code="invalid_permission",
            errors=[{"field": "permissions", "source": "body", "message": f"invalid: {e}"} for e in bad],
        )
    return sorted(set(entries))


async def list_roles(uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[RoleDTO]:
    stmt = select(Role).where(or_(Role.org_id == org_id, Role.org_id.is_(None)))
    rows = (await uow.session.execute(by_id(stmt, Role.id, cursor=cursor, limit=limit))).scalars()
    return page_of(list(rows), limit, lambda r: [str(r.id)], to_dto)


async def get_role(uow: UnitOfWork, org_id: uuid.UUID, role_id: uuid.UUID) -> RoleDTO:
    return to_dto(await visible_role(uow, org_id, role_id))


async def create_role(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    *,
    key: str,
    name: str,
    description: str | None,
    permissions: list[str],
) -> RoleDTO:
    ensure_writable(await lock_org(uow, org_id))
    entries = _check_entries(permissions)
    await ensure_covers(uow, org_id, entries)
    clash = (
        await uow.session.execute(
            select(Role.id).where(Role.key == key, or_(Role.org_id == org_id, Role.org_id.is_(None)))
        )
    ).first()
    if clash is not None:
        raise Conflict(f"a role with key {key!r} exists", code="role_key_taken")
    role = Role(
        org_id=org_id, key=key, name=name, description=description, permissions=entries, is_system=False
    )
    uow.session.add(role)
    await uow.session.flush()
    await uow.session.refresh(role)
    await uow.emit(
        ROLE_CREATED, subject=_subject(role), data={"key": key, "permissions": entries}, org_id=org_id
    )
    return to_dto(role)


async def _custom_role_for_update(uow: UnitOfWork, org_id: uuid.UUID, role_id: uuid.UUID) -> Role:
    ensure_writable(await lock_org(uow, org_id))
    role = await visible_role(uow, org_id, role_id)
    if role.is_system:
        raise Conflict("system roles are read-only", code="system_role_read_only")
    await ensure_covers(uow, org_id, list(role.permissions))
    return role


async def update_role(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    role_id: uuid.UUID,
    *,
    name: str | None,
    description: str | None,
    permissions: list[str] | None,
) -> RoleDTO:
    role = await _custom_role_for_update(uow, org_id, role_id)
    changes: dict[str, object] = {}
    if permissions is not None:
        entries = _check_entries(permissions)
        await ensure_covers(uow, org_id, entries)
        if entries != list(role.permissions):
            role.permissions = entries
            changes["permissions"] = entries
    if name is not None and name != role.name:
        role.name = name
        changes["name"] = name
    if description is not None and description != role.description:
        role.description = description
        changes["description"] = description
    if changes:
        await uow.session.flush()
        await uow.session.refresh(role)
        await uow.emit(ROLE_UPDATED, subject=_subject(role), data=changes, org_id=org_id)
    return to_dto(role)


async def delete_role(uow: UnitOfWork, org_id: uuid.UUID, role_id: uuid.UUID) -> None:
    """Deleting a custom role withdraws its assignments; pending invitations block it."""
    role = await _custom_role_for_update(uow, org_id, role_id)
    pending = (
        await uow.session.execute(
            select(func.count())
            .select_from(Invitation)
            .where(Invitation.role_id == role.id, Invitation.status == "pending")
        )
    ).scalar_one()
    if pending:
        raise Conflict(
            f"{pending} pending invitation(s) offer this role; revoke them first", code="role_in_use"
        )
    withdrawn = (
        await uow.session.execute(
            select(func.count()).select_from(RoleAssignment).where(RoleAssignment.role_id == role.id)
        )
    ).scalar_one()
    await uow.session.delete(role)
    await uow.session.flush()
    await uow.emit(
        ROLE_DELETED,
        subject=_subject(role),
        data={"key": role.key, "assignments_withdrawn": withdrawn},
        org_id=org_id,
    )
