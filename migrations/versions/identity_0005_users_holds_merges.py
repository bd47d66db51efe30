"""identity: users (Keycloak mirror), retention holds, person merges

Revision ID: identity_0005_users_holds_merges
Revises: organization_0004_tables
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "identity_0005_users_holds_merges"
down_revision = "organization_0004_tables"
branch_labels = None
depends_on = None


def _timestamp(name: str, *, nullable: bool = False, default: bool = True) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("now()") if default else None,
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("keycloak_sub", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("email_verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        _timestamp("last_login_at", nullable=True, default=False),
        _timestamp("synced_at"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f("ck_users_status")),
        sa.CheckConstraint(
            "length(keycloak_sub) BETWEEN 1 AND 255", name=op.f("ck_users_keycloak_sub_length")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["identity.persons.id"], name=op.f("fk_users_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("keycloak_sub", name=op.f("uq_users_keycloak_sub")),
        schema="identity",
    )
    op.create_index(op.f("ix_users_person_id"), "users", ["person_id"], unique=False, schema="identity")
    add_updated_at_trigger("identity", "users")

    op.create_table(
        "retention_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("authority", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("placed_by", sa.Text(), nullable=False),
        _timestamp("placed_at"),
        sa.Column("released_by", sa.Text(), nullable=True),
        _timestamp("released_at", nullable=True, default=False),
        sa.CheckConstraint(
            "length(reason) > 0 AND length(authority) > 0",
            name=op.f("ck_retention_holds_reason_authority_present"),
        ),
        sa.CheckConstraint(
            "released_at IS NULL OR released_at >= placed_at",
            name=op.f("ck_retention_holds_released_after_placed"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["identity.persons.id"], name=op.f("fk_retention_holds_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_holds")),
        schema="identity",
    )
    op.create_index(
        op.f("ix_retention_holds_person_id"),
        "retention_holds",
        ["person_id"],
        unique=False,
        schema="identity",
    )

    op.create_table(
        "person_merges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_person_id", sa.Uuid(), nullable=False),
        sa.Column("target_person_id", sa.Uuid(), nullable=False),
        sa.Column("merged_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _timestamp("merged_at"),
        sa.CheckConstraint("length(reason) > 0", name=op.f("ck_person_merges_reason_present")),
        sa.CheckConstraint("source_person_id <> target_person_id", name=op.f("ck_person_merges_not_self")),
        sa.ForeignKeyConstraint(
            ["source_person_id"],
            ["identity.persons.id"],
            name=op.f("fk_person_merges_source_person_id_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["target_person_id"],
            ["identity.persons.id"],
            name=op.f("fk_person_merges_target_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_merges")),
        # also the index of the source_person_id foreign key
        sa.UniqueConstraint("source_person_id", name=op.f("uq_person_merges_source_person_id")),
        schema="identity",
    )
    op.create_index(
        op.f("ix_person_merges_target_person_id"),
        "person_merges",
        ["target_person_id"],
        unique=False,
        schema="identity",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_person_merges_target_person_id"), table_name="person_merges", schema="identity")
    op.drop_table("person_merges", schema="identity")
    op.drop_index(op.f("ix_retention_holds_person_id"), table_name="retention_holds", schema="identity")
    op.drop_table("retention_holds", schema="identity")
    op.execute("DROP TRIGGER trg_users_updated_at ON identity.users")
    op.drop_index(op.f("ix_users_person_id"), table_name="users", schema="identity")
    op.drop_table("users", schema="identity")
