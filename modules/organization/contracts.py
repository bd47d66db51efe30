"""organization's public data: DTOs and versioned events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

OrgKind = Literal["personal", "team", "enterprise"]
OrgStatus = Literal["trial", "active", "frozen", "archived"]
MemberStatus = Literal["active", "suspended", "removed"]
PrincipalType = Literal["person", "service_account"]
ScopeType = Literal["organization", "workspace"]
WorkspaceStatus = Literal["active", "archived"]
InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]

SYSTEM_ROLE_OWNER = "owner"
SYSTEM_ROLE_ADMIN = "admin"
SYSTEM_ROLE_BILLING_ADMIN = "billing_admin"
SYSTEM_ROLE_MEMBER = "member"
SYSTEM_ROLE_VIEWER = "viewer"
# The platform-operator role: assigned at platform scope only, valid in every organization.
SYSTEM_ROLE_OPERATOR = "operator"

SERVICE_ACCOUNT_KEY_PREFIX = "keel_sak"

# Events (all carry org_id, except the operator assignment events).
ORGANIZATION_CREATED = "organization.organization.created"
ORGANIZATION_UPDATED = "organization.organization.updated"
ORGANIZATION_STATUS_CHANGED = "organization.organization.status_changed"
MEMBER_ADDED = "organization.member.added"
MEMBER_SUSPENDED = "organization.member.suspended"
MEMBER_REACTIVATED = "organization.member.reactivated"
MEMBER_REMOVED = "organization.member.removed"
MEMBERSHIPS_REPOINTED = "organization.member.repointed"
ROLE_CREATED = "organization.role.created"
ROLE_UPDATED = "organization.role.updated"
ROLE_DELETED = "organization.role.deleted"
ROLE_ASSIGNED = "organization.role_assignment.created"
ROLE_UNASSIGNED = "organization.role_assignment.deleted"
WORKSPACE_CREATED = "organization.workspace.created"
WORKSPACE_UPDATED = "organization.workspace.updated"
WORKSPACE_DELETED = "organization.workspace.deleted"
SERVICE_ACCOUNT_CREATED = "organization.service_account.created"
SERVICE_ACCOUNT_UPDATED = "organization.service_account.updated"
SERVICE_ACCOUNT_DELETED = "organization.service_account.deleted"
SERVICE_ACCOUNT_KEY_CREATED = "organization.service_account_key.created"
SERVICE_ACCOUNT_KEY_REVOKED = "organization.service_account_key.revoked"
INVITATION_CREATED = "organization.invitation.created"
INVITATION_REVOKED = "organization.invitation.revoked"
INVITATION_EXPIRED = "organization.invitation.expired"
INVITATION_ACCEPTED = "organization.invitation.accepted"


class OrganizationDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    slug: str
    name: str
    kind: OrgKind
    status: OrgStatus
    trial_ends_at: datetime | None
    created_at: datetime
    updated_at: datetime
    frozen_reason: str | None = None  # why a frozen organization is read-only (e.g. "nonpayment")


class StatusChanged(msgspec.Struct, frozen=True, kw_only=True):
    org_id: uuid.UUID
    previous: OrgStatus
    status: OrgStatus
    reason: str | None = None


class MemberDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    person_id: uuid.UUID
    status: MemberStatus
    invited_by: uuid.UUID | None
    roles: list[str]  # keys of the member's organization-scope roles
    created_at: datetime
    updated_at: datetime


class RoleDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID | None
    key: str
    name: str
    description: str | None
    permissions: list[str]
    is_system: bool
    created_at: datetime
    updated_at: datetime


class RoleAssignmentDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    principal_type: PrincipalType
    principal_id: uuid.UUID
    role_id: uuid.UUID
    role_key: str
    scope_type: ScopeType
    scope_id: uuid.UUID
    created_at: datetime


class WorkspaceDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    slug: str
    name: str
    description: str | None
    status: WorkspaceStatus
    created_at: datetime
    updated_at: datetime


class ServiceAccountDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ServiceAccountKeyDTO(msgspec.Struct, frozen=True, kw_only=True):
    """A key as listed: never its secret."""

    id: uuid.UUID
    org_id: uuid.UUID
    service_account_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    allowed_ips: list[str]
    allowed_origins: list[str]
    rate_limit_per_min: int | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class IssuedServiceAccountKey(msgspec.Struct, frozen=True, kw_only=True):
    """A newly created key; `token` is shown once and never stored in clear."""

    key: ServiceAccountKeyDTO
    token: str


class InvitationDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role_id: uuid.UUID
    status: InvitationStatus
    expires_at: datetime
    invited_by: uuid.UUID | None
    accepted_person_id: uuid.UUID | None
    accepted_at: datetime | None
    created_at: datetime


class IssuedInvitation(msgspec.Struct, frozen=True, kw_only=True):
    """A newly created invitation; `token` is shown once (send it to the invitee)."""

    invitation: InvitationDTO
    token: str


class AcceptedInvitation(msgspec.Struct, frozen=True, kw_only=True):
    invitation: InvitationDTO
    member: MemberDTO


class AuthzDecision(msgspec.Struct, frozen=True, kw_only=True):
    """`standing` false: the principal has nothing to do with the organization (HTTP 404)."""

    allowed: bool
    reason: str
    standing: bool = True
