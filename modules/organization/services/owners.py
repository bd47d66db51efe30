"""The invariant that an organization always keeps an active owner.

Every change that can take an owner away (remove, suspend, demote) first locks the
organization row (`common.lock_org`), so such changes run one at a time per organization and
each one counts the owners that the previous one left behind."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, func, select

from modules.organization.contracts import SYSTEM_ROLE_OWNER
from modules.organization.models import OrgMember, Role, RoleAssignment
from platform_core.core.errors import Conflict
from platform_core.messaging.uow import UnitOfWork


def _owners(org_id: uuid.UUID) -> Select[Any]:
    return (
        select(OrgMember.person_id)
        .join(
            RoleAssignment,
            and_(
                RoleAssignment.principal_type == "person",
                RoleAssignment.principal_id == OrgMember.person_id,
                RoleAssignment.scope_type == "organization",
                RoleAssignment.scope_id == OrgMember.org_id,
            ),
        )
        .join(Role, and_(Role.id == RoleAssignment.role_id, Role.key == SYSTEM_ROLE_OWNER, Role.is_system))
        .where(OrgMember.org_id == org_id, OrgMember.status == "active")
    )


async def active_owner_ids(uow: UnitOfWork, org_id: uuid.UUID) -> set[uuid.UUID]:
    return set((await uow.session.execute(_owners(org_id))).scalars())


async def ensure_other_owner(uow: UnitOfWork, org_id: uuid.UUID, person_id: uuid.UUID) -> None:
    """Refuse when `person_id` is the organization's only active owner. Call with the
    organization row locked."""
    others = (
        await uow.session.execute(
            select(func.count()).select_from(
                _owners(org_id).where(OrgMember.person_id != person_id).subquery()
            )
        )
    ).scalar_one()
    if others == 0 and person_id in await active_owner_ids(uow, org_id):
        raise Conflict(
            "this is the organization's last active owner; make someone else owner first",
            code="last_owner",
        )
