"""cooperative's tables (schema `cooperative`). Private to the module."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "cooperative"


class Patron(Timestamped, Base):
    """A member of the cooperative: the projection of an organization's billing account."""

    __tablename__ = "patrons"
    __table_args__ = (CheckConstraint("status IN ('active', 'inactive')", name="status"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    member_number: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.organizations.id", ondelete="RESTRICT"), unique=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT"), unique=True
    )
    status: Mapped[str] = mapped_column(Text, server_default="active")
    joined_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class PatronageEvent(Base):
    """One contribution from a billing outcome (a paid invoice adds; a succeeded refund, the
    credited part of a paid invoice and a lost dispute subtract), recorded once per source:
    replaying the outcome changes nothing."""

    __tablename__ = "patronage_events"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id"),
        CheckConstraint(
            "source_type IN ('invoice_paid', 'refund_reversed', 'credit_note_voided', 'refund',"
            " 'credit_note', 'dispute_lost')",
            name="source_type",
        ),
        # contributions add; refunds, credit notes and lost disputes subtract
        CheckConstraint(
            "(source_type IN ('invoice_paid', 'refund_reversed', 'credit_note_voided') AND amount > 0)"
            " OR (source_type IN ('refund', 'credit_note', 'dispute_lost') AND amount < 0)",
            name="sign",
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
        Index("ix_patronage_events_fiscal_year_currency", "fiscal_year", "currency"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    patron_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cooperative.patrons.id", ondelete="RESTRICT"), index=True
    )
    source_type: Mapped[str] = mapped_column(Text)
    source_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Allocation(Timestamped, Base):
    """A fiscal year's surplus divided among patrons in one currency: computed as a draft,
    then approved, after which the database refuses to change it or its rows
    (cooperative_0034_allocations). At most one approved allocation per (fiscal year,
    currency); approving one checks that its rows add up exactly to the surplus."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'approved')", name="status"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
        CheckConstraint("fiscal_year BETWEEN 2000 AND 2200", name="fiscal_year"),
        CheckConstraint("surplus >= 0 AND total_patronage >= 0", name="amounts"),
        CheckConstraint("(status = 'approved') = (approved_at IS NOT NULL)", name="approved"),
        Index(
            "uq_allocations_approved_fiscal_year_currency",
            "fiscal_year",
            "currency",
            unique=True,
            postgresql_where=text("status = 'approved'"),
        ),
        Index("ix_allocations_fiscal_year_currency", "fiscal_year", "currency"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(Text)
    surplus: Mapped[int] = mapped_column(BigInteger)
    total_patronage: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, server_default="draft")
    computed_by: Mapped[str] = mapped_column(Text)
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(Text)


class AllocationRow(Base):
    """One patron's part of an allocation: its patronage basis, its share of the total
    patronage and the amount (whole minor units) it is paid."""

    __tablename__ = "allocation_rows"
    __table_args__ = (
        UniqueConstraint("allocation_id", "patron_id"),
        CheckConstraint("patronage > 0", name="patronage"),
        CheckConstraint("share > 0 AND share <= 1", name="share"),
        CheckConstraint("amount >= 0", name="amount"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    allocation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cooperative.allocations.id", ondelete="RESTRICT")
    )
    patron_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cooperative.patrons.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    patronage: Mapped[int] = mapped_column(BigInteger)
    share: Mapped[Decimal] = mapped_column(Numeric(13, 12))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class AllocationPayout(Base):
    """How an approved row was paid, once (unique per row; append-only): as a credit grant on
    the patron's billing account, or in cash outside Keel (a reference and the date)."""

    __tablename__ = "allocation_payouts"
    __table_args__ = (
        CheckConstraint("method IN ('credit', 'cash')", name="method"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("(method = 'credit') = (credit_grant_id IS NOT NULL)", name="credit"),
        CheckConstraint("(method = 'cash') = (reference IS NOT NULL)", name="cash"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    allocation_row_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cooperative.allocation_rows.id", ondelete="RESTRICT"), unique=True
    )
    method: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    credit_grant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.credit_grants.id", ondelete="RESTRICT")
    )
    reference: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime]
    paid_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
