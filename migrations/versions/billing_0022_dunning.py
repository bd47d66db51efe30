"""billing: overdue policies and the dunning ladder

Revision ID: billing_0022_dunning
Revises: cooperative_0021_patronage_reversals
Create Date: 2026-11-30

`overdue_policies`: one default (account_id NULL, seeded: retries after 3, 5 and 7 days;
past_due at 1 day past due, unpaid at 16, canceled at 23, frozen at 30) and at most one per
billing account. `overdue_states`: where each account stands on the ladder, in which episode
(an episode ends when the account is paid up). `overdue_transitions`: the append-only trail,
each step at most once per episode (unique). Subscription changes gain the kinds dunning
records (`past_due`, `unpaid`, `restored`); open invoices get an index by due date for the job.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "billing_0022_dunning"
down_revision = "cooperative_0021_patronage_reversals"
branch_labels = None
depends_on = None

S = "billing"
NOW = sa.text("now()")
STATES = "('current', 'past_due', 'unpaid', 'canceled', 'frozen')"
KINDS_BEFORE = (
    "'created', 'quantity_changed', 'cancel_scheduled', 'cancel_unscheduled', 'canceled', 'renewed',"
    " 'trial_ended'"
)
KINDS_AFTER = KINDS_BEFORE + ", 'past_due', 'unpaid', 'restored'"

APPEND_ONLY = (
    """CREATE FUNCTION billing.reject_transition_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'billing.overdue_transitions is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE TRIGGER trg_overdue_transitions_append_only BEFORE UPDATE OR DELETE ON billing.overdue_transitions
  FOR EACH ROW EXECUTE FUNCTION billing.reject_transition_edit()""",
)

SEED_DEFAULT = """INSERT INTO billing.overdue_policies
  (id, account_id, name, retry_days, past_due_after_days, unpaid_after_days, cancel_after_days,
   freeze_after_days)
VALUES (gen_random_uuid(), NULL, 'default', '{3,5,7}', 1, 16, 23, 30)"""


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete="RESTRICT"
    )


def _set_kinds(kinds: str) -> None:
    op.drop_constraint(op.f("ck_subscription_changes_kind"), "subscription_changes", schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_subscription_changes_kind"), "subscription_changes", f"kind IN ({kinds})", schema=S
    )


def upgrade() -> None:
    op.create_table(
        "overdue_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("retry_days", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("past_due_after_days", sa.Integer(), nullable=False),
        sa.Column("unpaid_after_days", sa.Integer(), nullable=True),
        sa.Column("cancel_after_days", sa.Integer(), nullable=True),
        sa.Column("freeze_after_days", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name=op.f("ck_overdue_policies_name")),
        sa.CheckConstraint(
            "cardinality(retry_days) <= 10 AND array_position(retry_days, NULL) IS NULL"
            " AND 1 <= ALL(retry_days) AND 60 >= ALL(retry_days)",
            name=op.f("ck_overdue_policies_retry_days"),
        ),
        sa.CheckConstraint(
            "past_due_after_days BETWEEN 0 AND 365"
            " AND (unpaid_after_days IS NULL OR unpaid_after_days BETWEEN past_due_after_days AND 365)"
            " AND (cancel_after_days IS NULL"
            "      OR cancel_after_days BETWEEN COALESCE(unpaid_after_days, past_due_after_days) AND 365)"
            " AND (freeze_after_days IS NULL OR freeze_after_days BETWEEN"
            "      COALESCE(cancel_after_days, unpaid_after_days, past_due_after_days) AND 365)",
            name=op.f("ck_overdue_policies_ladder"),
        ),
        _fk("overdue_policies", "account_id", "billing.billing_accounts.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overdue_policies")),
        sa.UniqueConstraint(
            "account_id", name=op.f("uq_overdue_policies_account_id"), postgresql_nulls_not_distinct=True
        ),
        schema=S,
    )
    add_updated_at_trigger(S, "overdue_policies")
    op.execute(SEED_DEFAULT)
    op.create_table(
        "overdue_states",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.Text(), server_default="current", nullable=False),
        sa.Column("episode", sa.Integer(), server_default="0", nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(f"state IN {STATES}", name=op.f("ck_overdue_states_state")),
        sa.CheckConstraint("episode >= 0", name=op.f("ck_overdue_states_episode")),
        _fk("overdue_states", "account_id", "billing.billing_accounts.id"),
        _fk("overdue_states", "org_id", "organization.organizations.id"),
        _fk("overdue_states", "invoice_id", "billing.invoices.id"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_overdue_states")),
        schema=S,
    )
    add_updated_at_trigger(S, "overdue_states")
    op.create_table(
        "overdue_transitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=False),
        sa.Column("to_state", sa.Text(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("subscription_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=True),
        sa.Column("policy_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.CheckConstraint(f"from_state IN {STATES}", name=op.f("ck_overdue_transitions_from_state")),
        sa.CheckConstraint(f"to_state IN {STATES}", name=op.f("ck_overdue_transitions_to_state")),
        sa.CheckConstraint("from_state <> to_state", name=op.f("ck_overdue_transitions_moves")),
        _fk("overdue_transitions", "account_id", "billing.billing_accounts.id"),
        _fk("overdue_transitions", "invoice_id", "billing.invoices.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overdue_transitions")),
        sa.UniqueConstraint(
            "account_id",
            "episode",
            "to_state",
            name=op.f("uq_overdue_transitions_account_id_episode_to_state"),
        ),
        schema=S,
    )
    op.create_index(
        op.f("ix_overdue_transitions_org_id_at"), "overdue_transitions", ["org_id", "at"], schema=S
    )
    for statement in APPEND_ONLY:
        op.execute(statement)
    op.create_index(
        "ix_invoices_open_due",
        "invoices",
        ["account_id", "due_date"],
        schema=S,
        postgresql_where=sa.text("status = 'open'"),
    )
    _set_kinds(KINDS_AFTER)


def downgrade() -> None:
    _set_kinds(KINDS_BEFORE)
    op.drop_index("ix_invoices_open_due", table_name="invoices", schema=S)
    op.drop_table("overdue_transitions", schema=S)
    op.execute("DROP FUNCTION billing.reject_transition_edit()")
    op.drop_table("overdue_states", schema=S)
    op.drop_table("overdue_policies", schema=S)
