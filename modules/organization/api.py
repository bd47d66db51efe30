"""organization's public facade: async functions taking a UnitOfWork."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from modules.organization.contracts import OrganizationDTO, OrgStatus
from modules.organization.models import OrgMember, Workspace
from modules.organization.services import authz, common, organizations
from modules.organization.services.assignments import grant_operator
from platform_core.cache.hot_cache import HotCaches
from platform_core.core.principal import Principal
from platform_core.messaging.uow import UnitOfWork

create_organization = organizations.create_organization
get_organization = organizations.get_organization
freeze = organizations.freeze  # read-only for a reason; an existing freeze keeps its own
unfreeze = organizations.unfreeze  # only a freeze made for that same reason


async def set_status(
    uow: UnitOfWork, org_id: uuid.UUID, status: OrgStatus, *, reason: str | None = None
) -> OrganizationDTO:
    """Lifecycle transition (e.g. billing freezing an organization for non-payment)."""
    return await organizations.set_status(uow, org_id, status, reason=reason)


async def is_allowed(
    uow: UnitOfWork,
    principal: Principal,
    permission: str,
    org_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None = None,
) -> bool | None:
    """The same decision the HTTP guard makes: True, False (known but lacking it), or None
    (no standing in the organization); a write to a frozen organization raises 409
    `organization_frozen`. Platform admins are always allowed."""
    if principal.is_platform_admin:
        return True
    return await authz.guard_answer(uow.session, principal, permission, org_id, workspace_id)


def allowed_from_cache(
    caches: HotCaches | None,
    principal: Principal,
    permission: str,
    org_id: uuid.UUID,
    workspace_id: uuid.UUID | None = None,
) -> bool:
    """True when this process's hot cache holds an allowing decision for exactly this question
    (no database round trip); False means "ask `is_allowed`", not "denied"."""
    if principal.is_platform_admin:
        return True
    decision = authz.cached_decision(caches, principal, permission, org_id, workspace_id)
    return decision is not None and decision.allowed


async def ensure_writable(uow: UnitOfWork, org_id: uuid.UUID) -> None:
    """Raise 404 for an unknown organization, 409 `organization_frozen` when it is read-only."""
    common.ensure_writable(await common.get_org(uow, org_id))


async def is_active_member(uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID) -> bool:
    status = (
        await uow.session.execute(
            select(OrgMember.status).where(OrgMember.org_id == org_id, OrgMember.person_id == person_id)
        )
    ).scalar_one_or_none()
    return status == "active"


async def active_member_count(uow: UnitOfWork, org_id: uuid.UUID) -> int:
    """Active memberships (e.g. for seat counting)."""
    return int(
        (
            await uow.session.execute(
                select(func.count())
                .select_from(OrgMember)
                .where(OrgMember.org_id == org_id, OrgMember.status == "active")
            )
        ).scalar_one()
    )


async def workspace_in_org(uow: UnitOfWork, org_id: uuid.UUID, workspace_id: uuid.UUID) -> bool:
    found = (
        await uow.session.execute(
            select(Workspace.id).where(Workspace.id == workspace_id, Workspace.org_id == org_id)
        )
    ).scalar_one_or_none()
    return found is not None


async def make_operator(uow: UnitOfWork, person_id: uuid.UUID) -> None:
    """Grant the platform-operator role (cross-organization administration)."""
    await grant_operator(uow, person_id)


__all__ = [
    "active_member_count",
    "create_organization",
    "ensure_writable",
    "freeze",
    "get_organization",
    "is_active_member",
    "is_allowed",
    "make_operator",
    "set_status",
    "unfreeze",
    "workspace_in_org",
]
