"""HTTP request bodies of organization's routes. Unknown fields are refused."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from modules.organization.contracts import OrgKind, OrgStatus, PrincipalType, ScopeType, WorkspaceStatus
from modules.organization.models import ORG_SLUG_PATTERN, ROLE_KEY_PATTERN, WORKSPACE_SLUG_PATTERN
from modules.organization.permissions import CONCRETE_PERMISSION_PATTERN, ENTRY_PATTERN

OrgSlug = Annotated[str, msgspec.Meta(pattern=ORG_SLUG_PATTERN, max_length=40)]
WorkspaceSlug = Annotated[str, msgspec.Meta(pattern=WORKSPACE_SLUG_PATTERN, max_length=40)]
RoleKey = Annotated[str, msgspec.Meta(pattern=ROLE_KEY_PATTERN, max_length=63)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Email = Annotated[
    str, msgspec.Meta(max_length=320, pattern=r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$")
]
PermissionEntry = Annotated[str, msgspec.Meta(pattern=ENTRY_PATTERN, max_length=200)]
Permission = Annotated[str, msgspec.Meta(pattern=CONCRETE_PERMISSION_PATTERN, max_length=200)]
IpOrCidr = Annotated[str, msgspec.Meta(min_length=2, max_length=64)]
Origin = Annotated[str, msgspec.Meta(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", max_length=300)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class CreateOrganization(Body):
    slug: OrgSlug
    name: Name
    kind: OrgKind = "team"
    owner_person_id: uuid.UUID | None = None  # platform operators only


class UpdateOrganization(Body):
    name: Name | None = None
    kind: OrgKind | None = None


class SetStatus(Body):
    status: OrgStatus
    reason: Reason | None = None


class CreateRole(Body):
    key: RoleKey
    name: Name
    permissions: Annotated[list[PermissionEntry], msgspec.Meta(max_length=200)]
    description: Description | None = None


class UpdateRole(Body):
    name: Name | None = None
    description: Description | None = None
    permissions: Annotated[list[PermissionEntry], msgspec.Meta(max_length=200)] | None = None


class CreateAssignment(Body):
    principal_type: PrincipalType
    principal_id: uuid.UUID
    role_id: uuid.UUID
    scope_type: ScopeType = "organization"
    scope_id: uuid.UUID | None = None


class CreateWorkspace(Body):
    slug: WorkspaceSlug
    name: Name
    description: Description | None = None


class UpdateWorkspace(Body):
    slug: WorkspaceSlug | None = None
    name: Name | None = None
    description: Description | None = None
    status: WorkspaceStatus | None = None


class CreateServiceAccount(Body):
    name: Name
    description: Description | None = None


class UpdateServiceAccount(Body):
    name: Name | None = None
    description: Description | None = None
    disabled: bool | None = None


class CreateKey(Body):
    name: Name
    scopes: Annotated[list[PermissionEntry], msgspec.Meta(min_length=1, max_length=200)] = msgspec.field(
        default_factory=lambda: ["*"]
    )
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None  # with its offset
    allowed_ips: Annotated[list[IpOrCidr], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    allowed_origins: Annotated[list[Origin], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    rate_limit_per_min: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


class CreateInvitation(Body):
    email: Email
    role_id: uuid.UUID
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=30)] = 7


class AcceptInvitation(Body):
    token: Token


class AuthzCheck(Body):
    principal_type: PrincipalType
    principal_id: uuid.UUID
    permission: Permission
    workspace_id: uuid.UUID | None = None


class AuthzAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """`reason` is `no_standing` when the principal has nothing to do with the organization."""

    allowed: bool
    reason: str
