"""cooperative's tables (schema `cooperative`). Private to the module."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
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
