"""Tax rates and the tax of each invoice line (billing_0028_tax_rates)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base

SCHEMA = "billing"


class TaxRate(Base):
    """A tax operators define, after Stripe's Tax Rates: a percentage (0 <= p < 100, four
    decimals) inclusive or exclusive, for a country (ISO 3166-1 alpha-2) and optionally one of
    its states (ISO 3166-2 subdivision code without the country). Immutable except `active`
    (a trigger), never deleted; at most one active rate per country and state."""

    __tablename__ = "tax_rates"
    __table_args__ = (
        CheckConstraint("char_length(display_name) BETWEEN 1 AND 100", name="display_name"),
        CheckConstraint("percentage >= 0 AND percentage < 100", name="percentage"),
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="country"),
        CheckConstraint("state IS NULL OR state ~ '^[A-Z0-9]{1,3}$'", name="state"),
        Index(
            "uq_tax_rates_active_jurisdiction",
            "country",
            "state",
            unique=True,
            postgresql_where=text("active"),
            postgresql_nulls_not_distinct=True,
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    display_name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    percentage: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    inclusive: Mapped[bool]
    country: Mapped[str] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class InvoiceLineTax(Base):
    """The tax of one invoice line: written while its invoice is a draft (when it is finalized),
    append-only (a trigger). A reverse-charged line names no rate and carries 0 tax."""

    __tablename__ = "invoice_line_taxes"
    __table_args__ = (
        UniqueConstraint("line_id"),
        CheckConstraint(
            "(reverse_charge AND tax_rate_id IS NULL AND amount = 0 AND NOT inclusive)"
            " OR (NOT reverse_charge AND tax_rate_id IS NOT NULL)",
            name="rate_or_reverse_charge",
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT"), index=True
    )
    line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.invoice_line_items.id", ondelete="RESTRICT")
    )
    tax_rate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.tax_rates.id", ondelete="RESTRICT")
    )
    taxable_amount: Mapped[int] = mapped_column(BigInteger)  # without the tax (inclusive rates too)
    amount: Mapped[int] = mapped_column(BigInteger)
    inclusive: Mapped[bool]
    reverse_charge: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
