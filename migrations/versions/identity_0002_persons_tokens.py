"""identity: persons and personal access tokens

Revision ID: identity_0002_persons_tokens
Revises: platform_0001_schemas
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "identity_0002_persons_tokens"
down_revision = "platform_0001_schemas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("tax_id", sa.Text(), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('individual', 'business', 'legal_entity')",
            name=op.f("ck_persons_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["identity.persons.id"],
            name=op.f("fk_persons_merged_into_id_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        schema="identity",
    )
    op.create_index(
        "ix_persons_email_lower",
        "persons",
        [sa.literal_column("lower(email)")],
        unique=False,
        schema="identity",
    )
    op.create_index(
        op.f("ix_persons_merged_into_id"),
        "persons",
        ["merged_into_id"],
        unique=False,
        schema="identity",
    )
    op.create_table(
        "personal_access_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("scopes", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["identity.persons.id"],
            name=op.f("fk_personal_access_tokens_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_access_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_personal_access_tokens_secret_hash")),
        schema="identity",
    )
    op.create_index(
        op.f("ix_personal_access_tokens_person_id"),
        "personal_access_tokens",
        ["person_id"],
        unique=False,
        schema="identity",
    )
    add_updated_at_trigger("identity", "persons")


def downgrade() -> None:
    op.drop_index(
        op.f("ix_personal_access_tokens_person_id"),
        table_name="personal_access_tokens",
        schema="identity",
    )
    op.drop_table("personal_access_tokens", schema="identity")
    op.drop_index(op.f("ix_persons_merged_into_id"), table_name="persons", schema="identity")
    op.drop_index("ix_persons_email_lower", table_name="persons", schema="identity")
    op.drop_table("persons", schema="identity")
