"""Credit grants and their ledger (billing_0027_credit_grants)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "billing"
ORG_FK = "organization.organizations.id"
CREDIT_CATEGORIES = ("promotional", "paid")
CREDIT_SOURCES = ("operator", "carried_credit", "overpayment", "credit_note", "patronage", "pending_charge")
CREDIT_KINDS = ("grant", "applied", "restored", "expired", "voided")
LIVE = "voided_at IS NULL AND expired_at IS NULL"


class CreditGrant(Timestamped, Base):
    """Credit an account may spend on its invoices in one currency (after Stripe's customer
    credit grants). Its balance is the sum of its `CreditTransaction` rows, never stored here;
    `expired_at` only marks that the expiry row was written (the job's index)."""

    __tablename__ = "credit_grants"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id"),
        CheckConstraint(f"category IN {CREDIT_CATEGORIES}", name="category"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
        CheckConstraint("priority BETWEEN 0 AND 100", name="priority"),
        CheckConstraint("expires_at IS NULL OR expires_at > effective_at", name="expires_after_effective"),
        CheckConstraint(f"source_type IN {CREDIT_SOURCES}", name="source_type"),
        CheckConstraint("expired_at IS NULL OR expires_at IS NOT NULL", name="expired_when_expiring"),
        Index("ix_credit_grants_account_id_id", "account_id", "id"),
        Index("ix_credit_grants_org_id_id", "org_id", "id"),
        Index("ix_credit_grants_live", "account_id", "currency", postgresql_where=text(LIVE)),
        Index(
            "ix_credit_grants_expiring",
            "expires_at",
            postgresql_where=text(f"expires_at IS NOT NULL AND {LIVE}"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    category: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(SmallInteger, server_default="50")
    effective_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime | None]
    applies_to_price_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), server_default="{}")
    description: Mapped[str] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(Text)
    source_id: Mapped[uuid.UUID]
    voided_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)


class CreditTransaction(Base):
    """The ledger of a grant, append-only (a trigger rejects UPDATE and DELETE; another refuses
    a row that would take the grant's balance below 0 or above its amount). Signed: `grant`
    and `restored` (an applied amount given back by a voided invoice) add, `applied`,
    `expired` and `voided` take away."""

    __tablename__ = "credit_transactions"
    __table_args__ = (
        CheckConstraint(f"kind IN {CREDIT_KINDS}", name="kind"),
        CheckConstraint(
            "(kind IN ('grant', 'restored') AND amount > 0)"
            " OR (kind IN ('applied', 'expired', 'voided') AND amount < 0)",
            name="sign",
        ),
        CheckConstraint(
            "(kind IN ('applied', 'restored')) = (invoice_id IS NOT NULL)", name="invoice_when_applied"
        ),
        Index("ix_credit_transactions_grant_id_id", "grant_id", "id"),
        Index(
            "ix_credit_transactions_invoice_id", "invoice_id", postgresql_where=text("invoice_id IS NOT NULL")
        ),
        Index(
            "uq_credit_transactions_once",
            "grant_id",
            "kind",
            unique=True,
            postgresql_where=text("kind IN ('grant', 'expired', 'voided')"),
        ),
        Index(
            "uq_credit_transactions_per_invoice",
            "grant_id",
            "kind",
            "invoice_id",
            unique=True,
            postgresql_where=text("invoice_id IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.credit_grants.id", ondelete="RESTRICT"))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT")
    )
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
