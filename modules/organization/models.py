"""organization's tables (schema `organization`). Private to the module."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import CIDR
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "organization"

ORG_SLUG_PATTERN = "^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$"  # seed 002 (tenants.slug)
WORKSPACE_SLUG_PATTERN = "^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$"  # seed 002 (tenant_projects.slug)
ROLE_KEY_PATTERN = "^[a-z][a-z0-9_]{1,62}$"

ORG_KINDS = ("personal", "team", "enterprise")
ORG_STATUSES = ("trial", "active", "frozen", "archived")
MEMBER_STATUSES = ("active", "suspended", "removed")
PRINCIPAL_TYPES = ("person", "service_account")
SCOPE_TYPES = ("organization", "workspace", "platform")
WORKSPACE_STATUSES = ("active", "archived")
INVITATION_STATUSES = ("pending", "accepted", "revoked", "expired")

ORG_FK = "organization.organizations.id"
PERSON_FK = "identity.persons.id"


class Organization(Timestamped, Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(f"slug ~ '{ORG_SLUG_PATTERN}'", name="slug_format"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint(f"kind IN {ORG_KINDS}", name="kind"),
        CheckConstraint(f"status IN {ORG_STATUSES}", name="status"),
        CheckConstraint(
            "frozen_reason IS NULL OR (status = 'frozen' AND char_length(frozen_reason) BETWEEN 1 AND 500)",
            name="frozen_reason",
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text, server_default="team")
    status: Mapped[str] = mapped_column(Text, server_default="trial", index=True)
    trial_ends_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)
    frozen_reason: Mapped[str | None] = mapped_column(Text)  # organization_0024_freeze_reason


class OrgMember(Timestamped, Base):
    __tablename__ = "org_members"
    __table_args__ = (
        UniqueConstraint("org_id", "person_id"),
        CheckConstraint(f"status IN {MEMBER_STATUSES}", name="status"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(PERSON_FK), index=True)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(PERSON_FK), index=True)


class Role(Timestamped, Base):
    """System roles have `org_id` NULL and `is_system` true; custom roles belong to one org.
    Keys are unique per org and, through NULLS NOT DISTINCT, among system roles."""

    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("org_id", "key", postgresql_nulls_not_distinct=True),
        CheckConstraint(f"key ~ '{ROLE_KEY_PATTERN}'", name="key_format"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint("is_system = (org_id IS NULL)", name="system_roles_global"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    is_system: Mapped[bool] = mapped_column(server_default=text("false"))


class RoleAssignment(Base):
    """A role granted to a person or service account at one scope. Organization scope stores
    `scope_id = org_id`; workspace scope stores the workspace id; the platform scope (the
    operator role, cross-org) has neither org nor scope id."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        UniqueConstraint(
            "principal_type",
            "principal_id",
            "role_id",
            "scope_type",
            "scope_id",
            name="uq_role_assignments_principal_role_scope",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint(f"principal_type IN {PRINCIPAL_TYPES}", name="principal_type"),
        CheckConstraint(f"scope_type IN {SCOPE_TYPES}", name="scope_type"),
        CheckConstraint(
            "(scope_type = 'platform' AND org_id IS NULL AND scope_id IS NULL)"
            " OR (scope_type = 'organization' AND org_id IS NOT NULL AND scope_id = org_id)"
            " OR (scope_type = 'workspace' AND org_id IS NOT NULL AND scope_id IS NOT NULL)",
            name="scope_shape",
        ),
        Index("ix_role_assignments_principal", "principal_id", "principal_type"),
        Index("ix_role_assignments_scope", "scope_type", "scope_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    principal_type: Mapped[str] = mapped_column(Text)
    principal_id: Mapped[uuid.UUID]
    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.roles.id", ondelete="CASCADE"), index=True
    )
    scope_type: Mapped[str] = mapped_column(Text)
    scope_id: Mapped[uuid.UUID | None]
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Workspace(Timestamped, Base):
    __tablename__ = "workspaces"
    __table_args__ = (
        UniqueConstraint("org_id", "slug"),
        CheckConstraint(f"slug ~ '{WORKSPACE_SLUG_PATTERN}'", name="slug_format"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint(f"status IN {WORKSPACE_STATUSES}", name="status"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    created_by: Mapped[str | None] = mapped_column(Text)


class ServiceAccount(Timestamped, Base):
    __tablename__ = "service_accounts"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)


class ServiceAccountKey(Base):
    __tablename__ = "service_account_keys"
    __table_args__ = (
        CheckConstraint("rate_limit_per_min IS NULL OR rate_limit_per_min > 0", name="rate_limit_positive"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    service_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.service_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    allowed_ips: Mapped[list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = mapped_column(
        ARRAY(CIDR), server_default="{}"
    )
    allowed_origins: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    rate_limit_per_min: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Invitation(Timestamped, Base):
    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(f"status IN {INVITATION_STATUSES}", name="status"),
        CheckConstraint(
            "(status = 'accepted') = (accepted_person_id IS NOT NULL)", name="accepted_has_person"
        ),
        CheckConstraint("char_length(email) BETWEEN 3 AND 320", name="email_length"),
        CheckConstraint("status <> 'pending' OR role_id IS NOT NULL", name="pending_has_role"),
        # one open invitation per address and org
        Index(
            "uq_invitations_org_id_email_pending",
            "org_id",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_invitations_org_id_status", "org_id", "status"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(Text)
    # NULL once the (custom) role was deleted; a pending invitation always names one
    role_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.roles.id", ondelete="SET NULL"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    expires_at: Mapped[datetime]
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(PERSON_FK), index=True)
    accepted_person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(PERSON_FK), index=True)
    accepted_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)
