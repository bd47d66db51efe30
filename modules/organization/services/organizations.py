"""Organizations: create (the creator becomes owner), read, update, lifecycle transitions."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from modules.identity import api as identity_api
from modules.organization.contracts import (
    ORGANIZATION_CREATED,
    ORGANIZATION_STATUS_CHANGED,
    ORGANIZATION_UPDATED,
    SYSTEM_ROLE_OWNER,
    OrganizationDTO,
    OrgKind,
    OrgStatus,
    StatusChanged,
)
from modules.organization.models import Organization, OrgMember
from modules.organization.services import assignments, members
from modules.organization.services.authz import is_operator
from modules.organization.services.common import ensure_writable, get_org, lock_org
from modules.organization.services.paging import by_id
from modules.organization.services.roles import system_role
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, Forbidden
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of

TRIAL_DAYS = 30

# Allowed lifecycle transitions. Archived is terminal: the data export window has closed.
TRANSITIONS: dict[str, frozenset[str]] = {
    "trial": frozenset({"active", "frozen", "archived"}),
    "active": frozenset({"frozen", "archived"}),
    "frozen": frozenset({"active", "archived"}),
    "archived": frozenset(),
}


def to_dto(org: Organization) -> OrganizationDTO:
    return OrganizationDTO(
        id=org.id,
        slug=org.slug,
        name=org.name,
        kind=org.kind,  # type: ignore[arg-type]
        status=org.status,  # type: ignore[arg-type]
        trial_ends_at=org.trial_ends_at,
        frozen_reason=org.frozen_reason,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def _subject(org: Organization) -> Subject:
    return Subject(type="organization", id=str(org.id), name=org.slug)


async def create_organization(
    uow: UnitOfWork,
    *,
    slug: str,
    name: str,
    kind: OrgKind,
    owner_person_id: uuid.UUID | None = None,
    trial_ends_at: datetime | None = None,
) -> OrganizationDTO:
    """Creates the organization in `trial` with `owner_person_id` (default: the acting
    person) as its first member, holding the owner role."""
    principal = uow.principal
    acting_person = principal.id if principal is not None and principal.type == "person" else None
    on_behalf = owner_person_id is not None and owner_person_id != acting_person
    if on_behalf and (principal is None or not await is_operator(uow.session, principal)):
        raise Forbidden("only a platform operator may create an organization for someone else")
    owner = owner_person_id or acting_person
    if owner is None:
        raise Forbidden(
            "an organization is created by a person, who becomes its owner", code="person_required"
        )
    await identity_api.get_person(uow, owner)
    taken = (await uow.session.execute(select(Organization.id).where(Organization.slug == slug))).first()
    if taken is not None:
        raise Conflict(f"the slug {slug!r} is taken", code="slug_taken")
    org = Organization(
        slug=slug,
        name=name,
        kind=kind,
        status="trial",
        trial_ends_at=trial_ends_at or utcnow() + timedelta(days=TRIAL_DAYS),
        created_by=uow.actor.id,
    )
    uow.session.add(org)
    await uow.session.flush()
    await uow.session.refresh(org)
    await uow.emit(
        ORGANIZATION_CREATED,
        subject=_subject(org),
        data={"slug": slug, "name": name, "kind": kind, "owner_person_id": str(owner)},
        org_id=org.id,
    )
    await members.add_member(uow, org.id, owner, invited_by=None)
    owner_role = await system_role(uow, SYSTEM_ROLE_OWNER)
    await assignments.assign(
        uow,
        org_id=org.id,
        principal_type="person",
        principal_id=owner,
        role=owner_role,
        scope_type="organization",
        scope_id=org.id,
    )
    return to_dto(org)


async def get_organization(uow: UnitOfWork, org_id: uuid.UUID) -> OrganizationDTO:
    return to_dto(await get_org(uow, org_id))


async def list_organizations(
    uow: UnitOfWork, *, all_orgs: bool, person_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page[OrganizationDTO]:
    """Organizations the person is an active or suspended member of (all for operators)."""
    stmt = select(Organization)
    if not all_orgs:
        stmt = stmt.join(OrgMember, OrgMember.org_id == Organization.id).where(
            OrgMember.person_id == person_id, OrgMember.status != "removed"
        )
    rows = (await uow.session.execute(by_id(stmt, Organization.id, cursor=cursor, limit=limit))).scalars()
    return page_of(list(rows), limit, lambda o: [str(o.id)], to_dto)


async def update_organization(
    uow: UnitOfWork, org_id: uuid.UUID, *, name: str | None, kind: OrgKind | None
) -> OrganizationDTO:
    org = await lock_org(uow, org_id)
    ensure_writable(org)
    changes: dict[str, str] = {}
    if name is not None and name != org.name:
        org.name = changes["name"] = name
    if kind is not None and kind != org.kind:
        org.kind = changes["kind"] = kind
    if changes:
        await uow.session.flush()
        await uow.session.refresh(org)
        await uow.emit(ORGANIZATION_UPDATED, subject=_subject(org), data=changes, org_id=org.id)
    return to_dto(org)


async def set_status(
    uow: UnitOfWork, org_id: uuid.UUID, status: OrgStatus, *, reason: str | None = None
) -> OrganizationDTO:
    """Moves the organization along TRANSITIONS; asking for the current status is a no-op."""
    org = await lock_org(uow, org_id)
    previous = org.status
    if status == previous:
        if status == "frozen" and reason is not None and reason != org.frozen_reason:
            await _set_frozen_reason(uow, org, reason)  # the operator's word on why, from now on
        return to_dto(org)
    if status not in TRANSITIONS[previous]:
        allowed = ", ".join(sorted(TRANSITIONS[previous])) or "none"
        raise Conflict(
            f"an organization cannot go from {previous} to {status} (allowed: {allowed})",
            code="invalid_transition",
        )
    org.status = status
    org.frozen_reason = reason if status == "frozen" else None
    await uow.session.flush()
    await uow.session.refresh(org)
    await uow.emit(
        ORGANIZATION_STATUS_CHANGED,
        subject=_subject(org),
        data=StatusChanged(org_id=org.id, previous=previous, status=status, reason=reason),  # type: ignore[arg-type]
        org_id=org.id,
    )
    return to_dto(org)


async def _set_frozen_reason(uow: UnitOfWork, org: Organization, reason: str) -> None:
    org.frozen_reason = reason
    await uow.session.flush()
    await uow.session.refresh(org)
    await uow.emit(
        ORGANIZATION_STATUS_CHANGED,
        subject=_subject(org),
        data=StatusChanged(org_id=org.id, previous="frozen", status="frozen", reason=reason),
        org_id=org.id,
    )


async def freeze(uow: UnitOfWork, org_id: uuid.UUID, *, reason: str) -> bool:
    """Make the organization read-only for `reason`; an organization already frozen keeps its
    freeze and that freeze's reason, and an archived one stays archived. True when it froze."""
    org = await lock_org(uow, org_id)
    if org.status in ("frozen", "archived"):
        return False
    await set_status(uow, org_id, "frozen", reason=reason)
    return True


async def unfreeze(uow: UnitOfWork, org_id: uuid.UUID, *, reason: str) -> bool:
    """Make the organization active again only if it is frozen for exactly `reason` (a freeze
    for anything else is not the caller's to lift). True when it unfroze."""
    org = await lock_org(uow, org_id)
    if org.status != "frozen" or org.frozen_reason != reason:
        return False
    await set_status(uow, org_id, "active", reason=f"{reason} resolved")
    return True
