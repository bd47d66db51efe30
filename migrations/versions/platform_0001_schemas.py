"""platform: create every Keel schema, the updated_at trigger function and idempotency keys.

Revision ID: platform_0001_schemas
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "platform_0001_schemas"
down_revision = None
branch_labels = None
depends_on = None

SCHEMAS = (
    "platform",
    "identity",
    "organization",
    "entitlements",
    "billing",
    "cooperative",
    "audit",
    "integration",
)


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    op.execute(
        """CREATE FUNCTION platform.set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN NEW.updated_at = now(); RETURN NEW; END $$"""
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("owner", "key", name="pk_idempotency_keys"),
        schema="platform",
    )
    op.create_index(
        "ix_idempotency_keys_created_at",
        "idempotency_keys",
        ["created_at"],
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys", schema="platform")
    op.execute("DROP FUNCTION platform.set_updated_at()")
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP SCHEMA {schema}")
