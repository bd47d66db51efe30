"""cooperative: negative patronage for refunds, credit notes and lost disputes

Revision ID: cooperative_0021_patronage_reversals
Revises: billing_0020_refunds
Create Date: 2026-11-30

A succeeded refund, the credited part of a paid invoice (credit note) and a lost dispute each
subtract once per source; a refund that fails after succeeding and a voided credit note give
it back, once too. The sign of each kind of event is checked.
"""

from __future__ import annotations

from alembic import op

revision = "cooperative_0021_patronage_reversals"
down_revision = "billing_0020_refunds"
branch_labels = None
depends_on = None

S = "cooperative"
T = "patronage_events"
POSITIVE = "('invoice_paid', 'refund_reversed', 'credit_note_voided')"
NEGATIVE = "('refund', 'credit_note', 'dispute_lost')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_patronage_events_source_type"), T, schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_patronage_events_source_type"),
        T,
        f"source_type IN {POSITIVE[:-1]}, {NEGATIVE[1:]}",
        schema=S,
    )
    op.create_check_constraint(
        op.f("ck_patronage_events_sign"),
        T,
        f"(source_type IN {POSITIVE} AND amount > 0) OR (source_type IN {NEGATIVE} AND amount < 0)",
        schema=S,
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_patronage_events_sign"), T, schema=S, type_="check")
    op.drop_constraint(op.f("ck_patronage_events_source_type"), T, schema=S, type_="check")
    op.execute(f"DELETE FROM {S}.{T} WHERE source_type NOT IN ('invoice_paid', 'refund')")
    op.create_check_constraint(
        op.f("ck_patronage_events_source_type"), T, "source_type IN ('invoice_paid', 'refund')", schema=S
    )
