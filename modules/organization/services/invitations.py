"""Invitations: an emailed, single-use, expiring offer to join an organization with a role.

Accepting locks the invitation row, so concurrent accepts run one after the other: the first
creates the membership and role assignment, a retry by the same person gets the same result
back, anyone else gets 409."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from modules.identity import api as identity_api
from modules.organization.contracts import (
    INVITATION_ACCEPTED,
    INVITATION_CREATED,
    INVITATION_EXPIRED,
    INVITATION_REVOKED,
    AcceptedInvitation,
    InvitationDTO,
    InvitationStatus,
    IssuedInvitation,
)
from modules.organization.models import Invitation, Organization
from modules.organization.services import assignments, members
from modules.organization.services.common import (
    acting_person_id,
    ensure_writable,
    frozen_error,
    lock_org,
    require_person,
)
from modules.organization.services.paging import by_id
from modules.organization.services.roles import assignable_role, ensure_covers
from platform_core.auth.credentials import hash_secret, new_secret, secret_is_well_formed
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, Forbidden, NotFound
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of

INVITATION_PREFIX = "keel_inv"
DEFAULT_TTL = timedelta(days=7)


def status_of(inv: Invitation) -> str:
    """`pending` past its expiry reads as `expired` (the row is not rewritten on read)."""
    if inv.status == "pending" and inv.expires_at <= utcnow():
        return "expired"
    return inv.status


def to_dto(inv: Invitation) -> InvitationDTO:
    assert inv.role_id is not None or inv.status != "pending"
    return InvitationDTO(
        id=inv.id,
        org_id=inv.org_id,
        email=inv.email,
        role_id=inv.role_id,  # type: ignore[arg-type]
        status=status_of(inv),  # type: ignore[arg-type]
        expires_at=inv.expires_at,
        invited_by=inv.invited_by,
        accepted_person_id=inv.accepted_person_id,
        accepted_at=inv.accepted_at,
        created_at=inv.created_at,
    )


def _subject(inv: Invitation) -> Subject:
    return Subject(type="invitation", id=str(inv.id), name=inv.email)


async def create_invitation(
    uow: UnitOfWork, org_id: uuid.UUID, *, email: str, role_id: uuid.UUID, ttl: timedelta = DEFAULT_TTL
) -> IssuedInvitation:
    ensure_writable(await lock_org(uow, org_id))
    role = await assignable_role(uow, org_id, role_id)
    await ensure_covers(uow, org_id, list(role.permissions))
    email = email.strip().lower()
    # an expired pending invitation no longer blocks a new one to the same address
    await uow.session.execute(
        update(Invitation)
        .where(
            Invitation.org_id == org_id,
            func.lower(Invitation.email) == email,
            Invitation.status == "pending",
            Invitation.expires_at <= func.now(),
        )
        .values(status="expired")
    )
    pending = (
        await uow.session.execute(
            select(Invitation.id).where(
                Invitation.org_id == org_id,
                func.lower(Invitation.email) == email,
                Invitation.status == "pending",
            )
        )
    ).first()
    if pending is not None:
        raise Conflict(
            f"{email} already has a pending invitation; revoke it first", code="invitation_pending"
        )
    token = new_secret(INVITATION_PREFIX)
    inv = Invitation(
        org_id=org_id,
        email=email,
        role_id=role.id,
        token_hash=hash_secret(token, uow.settings.token_pepper),
        status="pending",
        expires_at=utcnow() + ttl,
        invited_by=acting_person_id(uow),
        created_by=uow.actor.id,
    )
    uow.session.add(inv)
    await uow.session.flush()
    await uow.session.refresh(inv)
    await uow.emit(
        INVITATION_CREATED,
        subject=_subject(inv),
        data={
            "email": email,
            "role_id": str(role.id),
            "role_key": role.key,
            "expires_at": inv.expires_at.isoformat(),
        },
        org_id=org_id,
    )
    return IssuedInvitation(invitation=to_dto(inv), token=token)


async def list_invitations(
    uow: UnitOfWork, org_id: uuid.UUID, *, status: InvitationStatus | None, limit: int, cursor: str | None
) -> Page[InvitationDTO]:
    stmt = select(Invitation).where(Invitation.org_id == org_id)
    if status == "pending":
        stmt = stmt.where(Invitation.status == "pending", Invitation.expires_at > func.now())
    elif status == "expired":
        stmt = stmt.where(
            (Invitation.status == "expired")
            | ((Invitation.status == "pending") & (Invitation.expires_at <= func.now()))
        )
    elif status is not None:
        stmt = stmt.where(Invitation.status == status)
    rows = (await uow.session.execute(by_id(stmt, Invitation.id, cursor=cursor, limit=limit))).scalars()
    return page_of(list(rows), limit, lambda i: [str(i.id)], to_dto)


async def revoke_invitation(uow: UnitOfWork, org_id: uuid.UUID, invitation_id: uuid.UUID) -> InvitationDTO:
    ensure_writable(await lock_org(uow, org_id))
    inv = (
        await uow.session.execute(
            select(Invitation)
            .where(Invitation.id == invitation_id, Invitation.org_id == org_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if inv is None:
        raise NotFound(f"invitation {invitation_id} does not exist", code="invitation_not_found")
    if inv.status == "revoked":
        return to_dto(inv)
    if inv.status != "pending":
        raise Conflict(f"the invitation is {inv.status}", code=f"invitation_{inv.status}")
    inv.status = "revoked"
    await uow.session.flush()
    await uow.session.refresh(inv)
    await uow.emit(INVITATION_REVOKED, subject=_subject(inv), data={"email": inv.email}, org_id=org_id)
    return to_dto(inv)


async def accept_invitation(uow: UnitOfWork, token: str) -> AcceptedInvitation:
    person_id = require_person(uow)
    not_found = NotFound("no invitation matches this token", code="invitation_not_found")
    if not secret_is_well_formed(token, INVITATION_PREFIX):
        raise not_found
    inv = (
        await uow.session.execute(
            select(Invitation)
            .where(Invitation.token_hash == hash_secret(token, uow.settings.token_pepper))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if inv is None:
        raise not_found
    if inv.status == "accepted":
        if inv.accepted_person_id != person_id:
            raise Conflict("this invitation has already been used", code="invitation_used")
        member = await members.find_member(uow, inv.org_id, person_id)
        assert member is not None
        return AcceptedInvitation(invitation=to_dto(inv), member=await members.to_dto(uow, member))
    status = status_of(inv)
    if status != "pending":
        raise Conflict(f"this invitation is {status}", code=f"invitation_{status}")
    person = await identity_api.get_person(uow, person_id)
    if person.email is not None and person.email.lower() != inv.email.lower():
        raise Forbidden("this invitation was sent to another email address", code="invitation_email_mismatch")
    org = await uow.session.get(Organization, inv.org_id)
    assert org is not None
    if org.status not in ("trial", "active"):
        raise frozen_error(org.id, org.status)
    member = await members.add_member(uow, inv.org_id, person_id, invited_by=inv.invited_by)
    assert inv.role_id is not None
    role = await assignable_role(uow, inv.org_id, inv.role_id)
    await assignments.assign(
        uow,
        org_id=inv.org_id,
        principal_type="person",
        principal_id=person_id,
        role=role,
        scope_type="organization",
        scope_id=inv.org_id,
    )
    inv.status = "accepted"
    inv.accepted_person_id = person_id
    inv.accepted_at = utcnow()
    await uow.session.flush()
    await uow.session.refresh(inv)
    await uow.emit(
        INVITATION_ACCEPTED,
        subject=_subject(inv),
        data={"person_id": str(person_id), "role_id": str(role.id), "role_key": role.key},
        org_id=inv.org_id,
    )
    return AcceptedInvitation(invitation=to_dto(inv), member=await members.to_dto(uow, member))


EXPIRE_BATCH = 500


async def expire_invitations(uow: UnitOfWork, *, limit: int = EXPIRE_BATCH) -> int:
    """Mark up to `limit` pending invitations past their expiry as expired, each with an event
    for the audit trail (reads already show them as expired). Returns how many."""
    due = (
        select(Invitation.id)
        .where(Invitation.status == "pending", Invitation.expires_at <= func.now())
        .order_by(Invitation.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    expired = (
        await uow.session.execute(
            update(Invitation)
            .where(Invitation.id.in_(due.scalar_subquery()))
            .values(status="expired")
            .returning(Invitation.id, Invitation.org_id, Invitation.email, Invitation.expires_at)
        )
    ).all()
    for row in expired:
        await uow.emit(
            INVITATION_EXPIRED,
            subject=Subject(type="invitation", id=str(row.id), name=row.email),
            data={"email": row.email, "expires_at": row.expires_at.isoformat()},
            org_id=row.org_id,
        )
    return len(expired)
