"""organization: organizations, members, roles, assignments, workspaces, service accounts, keys, invitations

Revision ID: organization_0004_tables
Revises: audit_0003_log_outbox
Create Date: 2026-11-22

System roles are seeded here with fixed ids (a frozen snapshot: later permission changes belong
in later revisions). `operator` is the platform-operator role: assigned only at scope_type
'platform' (org_id and scope_id NULL), it grants its permissions in every organization.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "organization_0004_tables"
down_revision = "audit_0003_log_outbox"
branch_labels = None
depends_on = None

MUTABLE_TABLES = ("organizations", "org_members", "roles", "workspaces", "service_accounts", "invitations")

_ORG_MANAGEMENT = [
    "organization.organizations:read",
    "organization.organizations:update",
    "organization.members:*",
    "organization.persons:*",
    "organization.roles:*",
    "organization.role_assignments:*",
    "organization.workspaces:*",
    "organization.service_accounts:*",
    "organization.invitations:*",
    "organization.authz:read",
]
_ORG_READ = [
    "organization.organizations:read",
    "organization.members:read",
    "organization.persons:read",
    "organization.roles:read",
    "organization.role_assignments:read",
    "organization.workspaces:read",
]

# (id, key, name, description, permissions)
SYSTEM_ROLES = (
    (
        "3bf7396e-9d9c-43ac-9c77-cdfd78c06e33",
        "operator",
        "Platform operator",
        "Cross-organization administration; assignable only at platform scope.",
        ["*"],
    ),
    (
        "3df07f4e-bf9e-4b34-96e0-0299878664d4",
        "owner",
        "Owner",
        "Full control of the organization, including its owners and billing.",
        [
            *_ORG_MANAGEMENT,
            "organization.owners:manage",
            "identity.*:*",
            "entitlements.*:*",
            "billing.*:*",
            "cooperative.*:*",
            "audit.*:*",
            "integration.*:*",
        ],
    ),
    (
        "dbb43fd8-07ae-449f-b612-b4f63e68d9b0",
        "admin",
        "Administrator",
        "Manages members, roles, workspaces and service accounts; reads billing.",
        [
            *_ORG_MANAGEMENT,
            "identity.*:*",
            "entitlements.*:*",
            "billing.*:read",
            "cooperative.*:*",
            "audit.*:*",
            "integration.*:*",
        ],
    ),
    (
        "585df2b4-7fca-4a34-b178-f0a9678f209a",
        "billing_admin",
        "Billing administrator",
        "Manages billing accounts, subscriptions and invoices.",
        [
            "organization.organizations:read",
            "organization.members:read",
            "billing.*:*",
            "entitlements.*:read",
            "audit.logs:read",
        ],
    ),
    (
        "180ff0be-0670-4961-a621-37d29882f063",
        "member",
        "Member",
        "Works inside the organization; reads its structure.",
        [
            *_ORG_READ,
            "identity.persons:read",
            "entitlements.*:read",
            "cooperative.*:read",
            "cooperative.*:create",
        ],
    ),
    (
        "9d020594-bfa0-4ee4-ae8a-c1194e1f1abd",
        "viewer",
        "Viewer",
        "Read-only access to the organization.",
        [
            "organization.organizations:read",
            "organization.members:read",
            "organization.workspaces:read",
            "entitlements.*:read",
        ],
    ),
)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), server_default="team", nullable=False),
        sa.Column("status", sa.Text(), server_default="trial", nullable=False),
        sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('personal', 'team', 'enterprise')", name=op.f("ck_organizations_kind")),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$'", name=op.f("ck_organizations_slug_format")
        ),
        sa.CheckConstraint(
            "status IN ('trial', 'active', 'frozen', 'archived')", name=op.f("ck_organizations_status")
        ),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name=op.f("ck_organizations_name_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
        schema="organization",
    )
    op.create_index(
        op.f("ix_organizations_status"), "organizations", ["status"], unique=False, schema="organization"
    )
    op.create_table(
        "org_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'removed')", name=op.f("ck_org_members_status")
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["identity.persons.id"], name=op.f("fk_org_members_invited_by_persons")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_org_members_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["identity.persons.id"], name=op.f("fk_org_members_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_members")),
        sa.UniqueConstraint("org_id", "person_id", name=op.f("uq_org_members_org_id_person_id")),
        schema="organization",
    )
    op.create_index(
        op.f("ix_org_members_invited_by"), "org_members", ["invited_by"], unique=False, schema="organization"
    )
    op.create_index(
        op.f("ix_org_members_person_id"), "org_members", ["person_id"], unique=False, schema="organization"
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("permissions", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("is_system", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("key ~ '^[a-z][a-z0-9_]{1,62}$'", name=op.f("ck_roles_key_format")),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name=op.f("ck_roles_name_length")),
        sa.CheckConstraint("is_system = (org_id IS NULL)", name=op.f("ck_roles_system_roles_global")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_roles_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint(
            "org_id", "key", name=op.f("uq_roles_org_id_key"), postgresql_nulls_not_distinct=True
        ),
        schema="organization",
    )
    op.create_table(
        "service_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 200", name=op.f("ck_service_accounts_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_service_accounts_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_accounts")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_service_accounts_org_id_name")),
        schema="organization",
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$'", name=op.f("ck_workspaces_slug_format")
        ),
        sa.CheckConstraint("status IN ('active', 'archived')", name=op.f("ck_workspaces_status")),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name=op.f("ck_workspaces_name_length")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_workspaces_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("org_id", "slug", name=op.f("uq_workspaces_org_id_slug")),
        schema="organization",
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("accepted_person_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status = 'accepted') = (accepted_person_id IS NOT NULL)",
            name=op.f("ck_invitations_accepted_has_person"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'revoked', 'expired')", name=op.f("ck_invitations_status")
        ),
        sa.CheckConstraint("char_length(email) BETWEEN 3 AND 320", name=op.f("ck_invitations_email_length")),
        sa.CheckConstraint(
            "status <> 'pending' OR role_id IS NOT NULL", name=op.f("ck_invitations_pending_has_role")
        ),
        sa.ForeignKeyConstraint(
            ["accepted_person_id"],
            ["identity.persons.id"],
            name=op.f("fk_invitations_accepted_person_id_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["identity.persons.id"], name=op.f("fk_invitations_invited_by_persons")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_invitations_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["organization.roles.id"],
            name=op.f("fk_invitations_role_id_roles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
        schema="organization",
    )
    op.create_index(
        op.f("ix_invitations_accepted_person_id"),
        "invitations",
        ["accepted_person_id"],
        unique=False,
        schema="organization",
    )
    op.create_index(
        op.f("ix_invitations_invited_by"), "invitations", ["invited_by"], unique=False, schema="organization"
    )
    op.create_index(
        "ix_invitations_org_id_status",
        "invitations",
        ["org_id", "status"],
        unique=False,
        schema="organization",
    )
    op.create_index(
        op.f("ix_invitations_role_id"), "invitations", ["role_id"], unique=False, schema="organization"
    )
    op.create_index(
        "uq_invitations_org_id_email_pending",
        "invitations",
        ["org_id", sa.literal_column("lower(email)")],
        unique=True,
        schema="organization",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("principal_type", sa.Text(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("scope_type", sa.Text(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(scope_type = 'platform' AND org_id IS NULL AND scope_id IS NULL) OR (scope_type = 'organization' AND org_id IS NOT NULL AND scope_id = org_id) OR (scope_type = 'workspace' AND org_id IS NOT NULL AND scope_id IS NOT NULL)",
            name=op.f("ck_role_assignments_scope_shape"),
        ),
        sa.CheckConstraint(
            "principal_type IN ('person', 'service_account')", name=op.f("ck_role_assignments_principal_type")
        ),
        sa.CheckConstraint(
            "scope_type IN ('organization', 'workspace', 'platform')",
            name=op.f("ck_role_assignments_scope_type"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_role_assignments_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["organization.roles.id"],
            name=op.f("fk_role_assignments_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_assignments")),
        sa.UniqueConstraint(
            "principal_type",
            "principal_id",
            "role_id",
            "scope_type",
            "scope_id",
            name="uq_role_assignments_principal_role_scope",
            postgresql_nulls_not_distinct=True,
        ),
        schema="organization",
    )
    op.create_index(
        op.f("ix_role_assignments_org_id"),
        "role_assignments",
        ["org_id"],
        unique=False,
        schema="organization",
    )
    op.create_index(
        "ix_role_assignments_principal",
        "role_assignments",
        ["principal_id", "principal_type"],
        unique=False,
        schema="organization",
    )
    op.create_index(
        op.f("ix_role_assignments_role_id"),
        "role_assignments",
        ["role_id"],
        unique=False,
        schema="organization",
    )
    op.create_index(
        "ix_role_assignments_scope",
        "role_assignments",
        ["scope_type", "scope_id"],
        unique=False,
        schema="organization",
    )
    op.create_table(
        "service_account_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("service_account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("scopes", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("allowed_ips", sa.ARRAY(postgresql.CIDR()), server_default="{}", nullable=False),
        sa.Column("allowed_origins", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("rate_limit_per_min", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "rate_limit_per_min IS NULL OR rate_limit_per_min > 0",
            name=op.f("ck_service_account_keys_rate_limit_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_service_account_keys_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_account_id"],
            ["organization.service_accounts.id"],
            name=op.f("fk_service_account_keys_service_account_id_service_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_account_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_service_account_keys_secret_hash")),
        schema="organization",
    )
    op.create_index(
        op.f("ix_service_account_keys_org_id"),
        "service_account_keys",
        ["org_id"],
        unique=False,
        schema="organization",
    )
    op.create_index(
        op.f("ix_service_account_keys_service_account_id"),
        "service_account_keys",
        ["service_account_id"],
        unique=False,
        schema="organization",
    )

    for table in MUTABLE_TABLES:
        add_updated_at_trigger("organization", table)
    roles = sa.table(
        "roles",
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("key", sa.Text()),
        sa.column("name", sa.Text()),
        sa.column("description", sa.Text()),
        sa.column("permissions", postgresql.ARRAY(sa.Text())),
        sa.column("is_system", sa.Boolean()),
        schema="organization",
    )
    op.bulk_insert(
        roles,
        [
            {
                "id": uuid.UUID(role_id),
                "org_id": None,
                "key": key,
                "name": name,
                "description": description,
                "permissions": permissions,
                "is_system": True,
            }
            for role_id, key, name, description, permissions in SYSTEM_ROLES
        ],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_service_account_keys_service_account_id"),
        table_name="service_account_keys",
        schema="organization",
    )
    op.drop_index(
        op.f("ix_service_account_keys_org_id"), table_name="service_account_keys", schema="organization"
    )
    op.drop_table("service_account_keys", schema="organization")
    op.drop_index("ix_role_assignments_scope", table_name="role_assignments", schema="organization")
    op.drop_index(op.f("ix_role_assignments_role_id"), table_name="role_assignments", schema="organization")
    op.drop_index("ix_role_assignments_principal", table_name="role_assignments", schema="organization")
    op.drop_index(op.f("ix_role_assignments_org_id"), table_name="role_assignments", schema="organization")
    op.drop_table("role_assignments", schema="organization")
    op.drop_index(
        "uq_invitations_org_id_email_pending",
        table_name="invitations",
        schema="organization",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(op.f("ix_invitations_role_id"), table_name="invitations", schema="organization")
    op.drop_index("ix_invitations_org_id_status", table_name="invitations", schema="organization")
    op.drop_index(op.f("ix_invitations_invited_by"), table_name="invitations", schema="organization")
    op.drop_index(op.f("ix_invitations_accepted_person_id"), table_name="invitations", schema="organization")
    op.drop_table("invitations", schema="organization")
    op.drop_table("workspaces", schema="organization")
    op.drop_table("service_accounts", schema="organization")
    op.drop_table("roles", schema="organization")
    op.drop_index(op.f("ix_org_members_person_id"), table_name="org_members", schema="organization")
    op.drop_index(op.f("ix_org_members_invited_by"), table_name="org_members", schema="organization")
    op.drop_table("org_members", schema="organization")
    op.drop_index(op.f("ix_organizations_status"), table_name="organizations", schema="organization")
    op.drop_table("organizations", schema="organization")
