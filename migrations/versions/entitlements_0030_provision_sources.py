"""entitlements: provisions reference their source by foreign key

Revision ID: entitlements_0030_provision_sources
Revises: billing_0029_purchases
Create Date: 2026-11-30

`pool_provisions` had a foreign key for grants only; a subscription's or a purchase's provision
named its source by a bare uuid, so a provision could claim a source that never existed. Each
source now has its own column with a foreign key (`subscription_item_id` -> billing's
subscription items, `purchase_id` -> billing's purchases, `grant_id` as before), and CHECKs tie
exactly the column of the provision's `source_type` to `source_id` (ADR 0020).

Existing rows are back-filled from `source_id`. A provision whose subscription or purchase does
not exist (an operator's hand provision "for a subscription made elsewhere", as the README once
showed) becomes what it always was: a grant, with the same id, pool, set, quantity and window
(open-ended ones for 100 years, the longest a grant says), reason naming where it came from.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "entitlements_0030_provision_sources"
down_revision = "billing_0029_purchases"
branch_labels = None
depends_on = None

S = "entitlements"
T = "pool_provisions"
SOURCES = (
    ("subscription", "subscription_item_id", "billing.subscription_items"),
    ("purchase", "purchase_id", "billing.purchases"),
)

ORPHANS_BECOME_GRANTS = """
WITH orphans AS (
  SELECT p.* FROM entitlements.pool_provisions p
   WHERE (p.source_type = 'subscription'
          AND NOT EXISTS (SELECT 1 FROM billing.subscription_items i WHERE i.id = p.source_id))
      OR (p.source_type = 'purchase'
          AND NOT EXISTS (SELECT 1 FROM billing.purchases b WHERE b.id = p.source_id))
), granted AS (
  INSERT INTO entitlements.grants
    (id, org_id, pool_id, entitlement_set_id, quantity, reason, granted_by, starts_at, ends_at)
  SELECT o.source_id, o.org_id, o.pool_id, o.entitlement_set_id, o.quantity,
         'provisioned by hand for ' || o.source_type || ' ' || o.source_id
           || ', which does not exist (entitlements_0030_provision_sources)',
         o.created_by, o.starts_at,
         GREATEST(COALESCE(o.ends_at, o.starts_at + interval '100 years'), o.starts_at + interval '1 second')
    FROM orphans o
  RETURNING id
)
UPDATE entitlements.pool_provisions p SET source_type = 'grant', grant_id = p.source_id
  FROM granted g WHERE p.source_id = g.id AND p.source_type IN ('subscription', 'purchase')
"""


def upgrade() -> None:
    op.execute(ORPHANS_BECOME_GRANTS)
    for source_type, column, target in SOURCES:
        op.add_column(T, sa.Column(column, sa.Uuid(), nullable=True), schema=S)
        op.execute(f"UPDATE {S}.{T} SET {column} = source_id WHERE source_type = '{source_type}'")
        schema, table = target.split(".")
        op.create_foreign_key(
            op.f(f"fk_{T}_{column}_{table}"), T, table, [column], ["id"],
            source_schema=S, referent_schema=schema, ondelete="RESTRICT",
        )  # fmt: skip
        op.create_index(op.f(f"ix_{T}_{column}"), T, [column], schema=S)
        op.create_check_constraint(
            op.f(f"ck_{T}_{source_type}_source"), T, f"(source_type = '{source_type}') = ({column} IS NOT NULL)",
            schema=S,
        )  # fmt: skip
        op.create_check_constraint(
            op.f(f"ck_{T}_{source_type}_is_source"), T, f"{column} IS NULL OR {column} = source_id", schema=S
        )


def downgrade() -> None:
    for source_type, column, target in SOURCES:
        table = target.split(".")[1]
        op.drop_constraint(op.f(f"ck_{T}_{source_type}_is_source"), T, schema=S, type_="check")
        op.drop_constraint(op.f(f"ck_{T}_{source_type}_source"), T, schema=S, type_="check")
        op.drop_index(op.f(f"ix_{T}_{column}"), T, schema=S)
        op.drop_constraint(op.f(f"fk_{T}_{column}_{table}"), T, schema=S, type_="foreignkey")
        op.drop_column(T, column, schema=S)
