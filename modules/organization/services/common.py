"""Lookups and guards shared by organization's services."""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy import select

from modules.organization.models import Organization
from platform_core.core.errors import Conflict, Forbidden, NotFound
from platform_core.messaging.uow import UnitOfWork

WRITABLE_STATUSES = ("trial", "active")


class OrgOwned(Protocol):
    org_id: Any


RowT = TypeVar("RowT", bound=OrgOwned)


async def get_in_org(
    uow: UnitOfWork, model: type[RowT], org_id: uuid.UUID, row_id: uuid.UUID, what: str, code: str
) -> RowT:
    """The row `row_id` of `model` if it belongs to `org_id`; otherwise 404 (another
    organization's row is reported exactly like a missing one)."""
    row = await uow.session.get(model, row_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"{what} {row_id} does not exist", code=code)
    return row


def org_not_found(org_id: uuid.UUID) -> NotFound:
    return NotFound(f"organization {org_id} does not exist", code="organization_not_found")


async def get_org(uow: UnitOfWork, org_id: uuid.UUID) -> Organization:
    org = await uow.session.get(Organization, org_id)
    if org is None:
        raise org_not_found(org_id)
    return org


async def lock_org(uow: UnitOfWork, org_id: uuid.UUID) -> Organization:
    """Serialise every change that must keep an organization-wide invariant (its last owner)
    on the organization row. FOR NO KEY UPDATE leaves inserts referencing the row unblocked."""
    org = (
        await uow.session.execute(
            select(Organization)
            .where(Organization.id == org_id)
            .with_for_update(key_share=True, of=Organization)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if org is None:
        raise org_not_found(org_id)
    return org


def frozen_error(org_id: uuid.UUID, status: str) -> Conflict:
    return Conflict(
        f"organization {org_id} is {status}: it is read-only",
        code="organization_frozen",
        title="Organization is read-only",
    )


def ensure_writable(org: Organization) -> None:
    if org.status not in WRITABLE_STATUSES:
        raise frozen_error(org.id, org.status)


def acting_person_id(uow: UnitOfWork) -> uuid.UUID | None:
    principal = uow.principal
    if principal is not None and principal.type == "person":
        return principal.id
    return None


def require_person(uow: UnitOfWork) -> uuid.UUID:
    person_id = acting_person_id(uow)
    if person_id is None:
        raise Forbidden("only a person can do this", code="person_required")
    return person_id
