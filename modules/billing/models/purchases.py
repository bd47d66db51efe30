"""One-time purchases (billing_0029_purchases)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from modules.billing.models import CURRENCY_CHECK, ORG_FK, SCHEMA
from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base

PURCHASE_STATUSES = ("completed", "void")


class Purchase(Base):
    """One `one_time` price x quantity bought by an account. It is billed exactly once: on its
    own invoice, finalized at once (`invoice_id`), or as a pending charge the account's next
    invoice carries (`pending_charge_id`). Its product's entitlement set is provisioned into
    `pool_id` (`provision_id`, non-expiring); voiding the invoice that bills it voids it and
    ends that provision."""

    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint(f"status IN {PURCHASE_STATUSES}", name="status"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("(invoice_id IS NULL) <> (pending_charge_id IS NULL)", name="billed_once"),
        CheckConstraint("provision_id IS NULL OR pool_id IS NOT NULL", name="provisioned_into_pool"),
        CheckConstraint("(status = 'void') = (voided_at IS NOT NULL)", name="voided"),
        Index("ix_purchases_org_id_id", "org_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    pool_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="RESTRICT")
    )
    price_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.prices.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="completed")
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT"), index=True
    )
    pending_charge_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.pending_charges.id", ondelete="RESTRICT"), unique=True
    )
    provision_id: Mapped[uuid.UUID | None]
    created_by: Mapped[str | None] = mapped_column(Text)
    voided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
