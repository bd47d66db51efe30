"""billing's tables (schema `billing`). Private to the module.

Money is integer minor units (`bigint`) with an ISO 4217 currency; quantities are integers.
The catalog (products, prices) is platform-wide; accounts and subscriptions belong to one
organization and carry `org_id`."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "billing"
ORG_FK = "organization.organizations.id"
CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$'"
TRIAL_CHECK = "trial_period_days IS NULL OR trial_period_days BETWEEN 1 AND 730"
INTERVALS = ("day", "week", "month", "year")
SUBSCRIPTION_STATUSES = ("incomplete", "trialing", "active", "past_due", "paused", "canceled", "unpaid")
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
PAYMENT_PROVIDERS = ("stripe", "manual")
CHANGE_KINDS = (
    "created", "quantity_changed", "cancel_scheduled", "cancel_unscheduled", "canceled", "renewed",
    "trial_ended", "past_due", "unpaid", "restored",  # the last three: dunning (billing_0022_dunning)
    # plan changes, schedules and pauses (billing_0032_plan_changes)
    "items_changed", "change_scheduled", "change_unscheduled", "scheduled_change_applied",
    "paused", "resumed",
)  # fmt: skip


class BillingAccount(Timestamped, Base):
    """The paying entity of an organization (one per organization)."""

    __tablename__ = "billing_accounts"
    __table_args__ = (
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint("status IN ('active', 'closed')", name="status"),
        CheckConstraint(f"collection_method IN {COLLECTION_METHODS}", name="collection_method"),
        CheckConstraint(f"provider IN {PAYMENT_PROVIDERS}", name="provider"),
        CheckConstraint("days_until_due BETWEEN 0 AND 365", name="days_until_due"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"), unique=True)
    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    tax_ids: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    provider_customer_id: Mapped[str | None] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    created_by: Mapped[str | None] = mapped_column(Text)
    # collection (billing_0018_collection): how invoices are paid, through which provider
    collection_method: Mapped[str] = mapped_column(Text, server_default="send_invoice")
    provider: Mapped[str] = mapped_column(Text, server_default="manual")
    days_until_due: Mapped[int] = mapped_column(Integer, server_default="30")
    default_payment_method_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.payment_methods.id", ondelete="SET NULL", use_alter=True)
    )


class Product(Timestamped, Base):
    """What is sold; `entitlement_set_id` pins the entitlement set version its subscriptions
    provision (changing it affects new subscriptions only)."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("key ~ '^[a-z][a-z0-9_.-]{0,99}$'", name="key_format"),
        CheckConstraint(TRIAL_CHECK, name="trial_period_days"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    key: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    entitlement_set_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("entitlements.entitlement_sets.id", ondelete="RESTRICT")
    )
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    # the trial operators offer (billing_0025_self_service_bounds); a price's own wins
    trial_period_days: Mapped[int | None] = mapped_column(Integer)


class Price(Base):
    """How a product is charged. Immutable once created except `active` (as Stripe): a new
    amount is a new price."""

    __tablename__ = "prices"
    __table_args__ = (
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint("type IN ('recurring', 'one_time')", name="type"),
        CheckConstraint(f"interval IS NULL OR interval IN {INTERVALS}", name="interval"),
        CheckConstraint("(type = 'recurring') = (interval IS NOT NULL)", name="recurring_has_interval"),
        CheckConstraint("interval_count BETWEEN 1 AND 365", name="interval_count"),
        CheckConstraint("usage_type IN ('licensed', 'metered')", name="usage_type"),
        CheckConstraint("usage_type = 'licensed' OR type = 'recurring'", name="metered_is_recurring"),
        CheckConstraint("(usage_type = 'metered') = (metered_resource_key IS NOT NULL)", name="metered_key"),
        CheckConstraint("billing_scheme IN ('per_unit', 'tiered')", name="billing_scheme"),
        CheckConstraint(
            "(billing_scheme = 'per_unit' AND unit_amount IS NOT NULL AND tiers IS NULL"
            " AND tiers_mode IS NULL)"
            " OR (billing_scheme = 'tiered' AND unit_amount IS NULL AND tiers IS NOT NULL"
            " AND tiers_mode IN ('graduated', 'volume'))",
            name="scheme_shape",
        ),
        CheckConstraint("unit_amount IS NULL OR unit_amount >= 0", name="unit_amount"),
        CheckConstraint(TRIAL_CHECK, name="trial_period_days"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.products.id", ondelete="RESTRICT"), index=True
    )
    lookup_key: Mapped[str | None] = mapped_column(Text, unique=True)
    currency: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    interval: Mapped[str | None] = mapped_column(Text)
    interval_count: Mapped[int] = mapped_column(Integer, server_default="1")
    usage_type: Mapped[str] = mapped_column(Text, server_default="licensed")
    billing_scheme: Mapped[str] = mapped_column(Text, server_default="per_unit")
    tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB(none_as_null=True))
    tiers_mode: Mapped[str | None] = mapped_column(Text)
    metered_resource_key: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    trial_period_days: Mapped[int | None] = mapped_column(Integer)  # billing_0025_self_service_bounds


class Subscription(Timestamped, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(f"status IN {SUBSCRIPTION_STATUSES}", name="status"),
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint(f"interval IN {INTERVALS}", name="interval"),
        CheckConstraint("current_period_end > current_period_start", name="period"),
        Index(
            "ix_subscriptions_due",
            "current_period_end",
            postgresql_where=text("status IN ('active', 'trialing')"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="RESTRICT")
    )
    status: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    interval: Mapped[str] = mapped_column(Text)
    interval_count: Mapped[int] = mapped_column(Integer)
    billing_cycle_anchor: Mapped[datetime]
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]
    trial_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(server_default=text("false"))
    canceled_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)


class SubscriptionItem(Base):
    """One price of a subscription, and the entitlements provision it made (if its product
    has an entitlement set)."""

    __tablename__ = "subscription_items"
    __table_args__ = (
        # a price once among a subscription's current items (billing_0032_plan_changes)
        Index(
            "uq_subscription_items_current_price",
            "subscription_id",
            "price_id",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
        ),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.subscriptions.id", ondelete="CASCADE"), index=True
    )
    price_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.prices.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)
    provision_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    removed_at: Mapped[datetime | None]  # removed by a plan change (billing_0032_plan_changes)


class SubscriptionChange(Base):
    """Immutable trail of every change to a subscription (a trigger rejects UPDATE and
    DELETE): what it was, what it became, the proration it implies, when, and by whom."""

    __tablename__ = "subscription_changes"
    __table_args__ = (
        CheckConstraint(f"kind IN {CHANGE_KINDS}", name="kind"),
        Index("ix_subscription_changes_subscription_id_id", "subscription_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.subscriptions.id", ondelete="RESTRICT")
    )
    org_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    after: Mapped[dict[str, Any]] = mapped_column(JSONB)
    proration: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    effective_at: Mapped[datetime]
    actor_type: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
LINE_SOURCES = ("subscription_item", "pending_charge", "proration", "purchase", "metered_usage", "one_off")
PENDING_KINDS = ("proration", "credit", "one_off", "usage", "purchase", "metered_usage")


class PendingCharge(Base):
    """An amount owed (or, negative, credited) to an account that the next invoice will carry:
    prorations, credits carried forward. Mutable only until an invoice takes it."""

    __tablename__ = "pending_charges"
    __table_args__ = (
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint(f"kind IN {PENDING_KINDS}", name="kind"),
        Index("ix_pending_charges_open", "account_id", postgresql_where=text("invoice_id IS NULL")),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.subscriptions.id", ondelete="RESTRICT")
    )
    subscription_item_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    price_id: Mapped[uuid.UUID | None] = mapped_column(  # billing_0026_invoice_drafts
        ForeignKey("billing.prices.id", ondelete="RESTRICT")
    )


class Invoice(Timestamped, Base):
    """A billing document. Its number is given at finalization from a gapless per-issuer
    sequence; after that its amounts never change (a trigger enforces it): corrections are new
    documents. Only the payment state moves (open -> paid / uncollectible / void)."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(f"status IN {INVOICE_STATUSES}", name="status"),
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint("(status = 'draft') = (number IS NULL)", name="numbered_when_final"),
        CheckConstraint("(status = 'draft') = (finalized_at IS NULL)", name="finalized_when_final"),
        # tax added on top (billing_0028_tax_rates)
        CheckConstraint("total = subtotal - discount_total + exclusive_tax", name="total"),
        CheckConstraint("NOT reverse_charge OR tax = 0", name="reverse_charge"),
        # credit notes may take up to `amount_credited` off what is due (billing_0020_refunds)
        # a draft owes nothing yet (billing_0026_invoice_drafts)
        CheckConstraint(
            "status = 'draft' AND amount_due = 0 OR status <> 'draft' AND amount_due >= 0"
            " AND amount_due <= total - credit_applied"
            " AND amount_due >= total - credit_applied - amount_credited",
            name="amount_due",
        ),
        CheckConstraint("amount_paid >= 0 AND amount_paid <= amount_due", name="amount_paid"),
        CheckConstraint("amount_refunded BETWEEN 0 AND amount_paid", name="amount_refunded"),
        CheckConstraint(
            "amount_credited >= 0 AND (status = 'draft' OR amount_credited <= total)", name="amount_credited"
        ),
        CheckConstraint(f"collection_method IN {COLLECTION_METHODS}", name="collection_method"),
        CheckConstraint("attempt_count >= 0", name="attempt_count"),
        Index("ix_invoices_org_id_id", "org_id", "id"),
        Index("ix_invoices_open_due", "account_id", "due_date", postgresql_where=text("status = 'open'")),
        Index(
            "ix_invoices_auto_finalize",
            "auto_finalize_at",
            postgresql_where=text("status = 'draft' AND auto_finalize_at IS NOT NULL"),
        ),
        Index(
            "ix_invoices_next_payment_attempt",
            "next_payment_attempt",
            postgresql_where=text("next_payment_attempt IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.subscriptions.id", ondelete="RESTRICT")
    )
    number: Mapped[str | None] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, server_default="draft")
    currency: Mapped[str] = mapped_column(Text)
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    subtotal: Mapped[int] = mapped_column(BigInteger, server_default="0")
    discount_total: Mapped[int] = mapped_column(BigInteger, server_default="0")
    credit_applied: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total: Mapped[int] = mapped_column(BigInteger, server_default="0")
    amount_due: Mapped[int] = mapped_column(BigInteger, server_default="0")
    amount_paid: Mapped[int] = mapped_column(BigInteger, server_default="0")
    amount_refunded: Mapped[int] = mapped_column(BigInteger, server_default="0")  # pending + succeeded
    amount_credited: Mapped[int] = mapped_column(BigInteger, server_default="0")  # issued credit notes
    due_date: Mapped[datetime | None]
    finalized_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    # automatic collection (billing_0018_collection): failed attempts and when to try again
    collection_method: Mapped[str] = mapped_column(Text, server_default="send_invoice")
    attempt_count: Mapped[int] = mapped_column(Integer, server_default="0")
    next_payment_attempt: Mapped[datetime | None]
    last_payment_error: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    # a draft is finalized by the finalize job once this passes (billing_0026_invoice_drafts)
    auto_finalize_at: Mapped[datetime | None]
    # tax (billing_0028_tax_rates): all of it, the part added to the total, EU reverse charge
    tax: Mapped[int] = mapped_column(BigInteger, server_default="0")
    exclusive_tax: Mapped[int] = mapped_column(BigInteger, server_default="0")
    reverse_charge: Mapped[bool] = mapped_column(server_default=text("false"))


class InvoiceLineItem(Base):
    """Append-only (a trigger rejects UPDATE and DELETE)."""

    __tablename__ = "invoice_line_items"
    __table_args__ = (
        CheckConstraint(f"source IN {LINE_SOURCES}", name="source"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT"), index=True
    )
    source: Mapped[str] = mapped_column(Text)
    source_id: Mapped[uuid.UUID | None]
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int | None] = mapped_column(Integer)
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    discount_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    price_id: Mapped[uuid.UUID | None] = mapped_column(  # billing_0026_invoice_drafts
        ForeignKey("billing.prices.id", ondelete="RESTRICT")
    )


class InvoiceNumberSequence(Base):
    """The next invoice number of an issuer; taken under the row's lock in the finalizing
    transaction, so numbers are gapless (a rolled-back finalization gives its number back)."""

    __tablename__ = "invoice_number_sequences"
    __table_args__ = (CheckConstraint("next_number >= 1", name="next_number"), {"schema": SCHEMA})

    issuer: Mapped[str] = mapped_column(Text, primary_key=True)
    prefix: Mapped[str] = mapped_column(Text)
    next_number: Mapped[int] = mapped_column(BigInteger, server_default="1")


class PendingChargeUsageEvent(Base):
    """Which usage events a usage pending charge bills: each event at most once (unique
    usage_event_id, entitlements_0031_usage_billing)."""

    __tablename__ = "pending_charge_usage_events"
    __table_args__ = (UniqueConstraint("usage_event_id"), {"schema": SCHEMA})

    pending_charge_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.pending_charges.id", ondelete="CASCADE"), primary_key=True
    )
    usage_event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class Payment(Base):
    """Money received for an account, as its provider reported it (unique per provider id:
    a redelivered provider event records nothing twice)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_payment_id"),
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('succeeded', 'unmatched')", name="status"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"), index=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT")
    )
    provider: Mapped[str] = mapped_column(Text)
    provider_payment_id: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)  # unmatched: no open invoice of that amount to settle
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Coupon(Base):
    """A discount's terms: percent (basis points) or an amount in one currency, for one invoice,
    a number of periods, or for ever; redeemable until `redeem_by`, at most `max_redemptions`."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint("key ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'", name="key_format"),
        CheckConstraint("(percent_off_bp IS NULL) <> (amount_off IS NULL)", name="percent_or_amount"),
        CheckConstraint("percent_off_bp IS NULL OR percent_off_bp BETWEEN 1 AND 10000", name="percent_range"),
        CheckConstraint(
            "amount_off IS NULL OR (amount_off > 0 AND currency IS NOT NULL)", name="amount_currency"
        ),
        CheckConstraint("duration IN ('once', 'repeating', 'forever')", name="duration"),
        CheckConstraint(
            "(duration = 'repeating') = (duration_in_periods IS NOT NULL)", name="repeating_periods"
        ),
        CheckConstraint("max_redemptions IS NULL OR times_redeemed <= max_redemptions", name="redemptions"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    key: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    percent_off_bp: Mapped[int | None] = mapped_column(Integer)
    amount_off: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[str] = mapped_column(Text)
    duration_in_periods: Mapped[int | None] = mapped_column(Integer)
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    times_redeemed: Mapped[int] = mapped_column(Integer, server_default="0")
    redeem_by: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class PromotionCode(Base):
    """A customer-facing code for a coupon (case-insensitive, stored upper-case)."""

    __tablename__ = "promotion_codes"
    __table_args__ = (
        CheckConstraint("code ~ '^[A-Z0-9][A-Z0-9_-]{2,49}$'", name="code_format"),
        CheckConstraint("max_redemptions IS NULL OR times_redeemed <= max_redemptions", name="redemptions"),
        CheckConstraint(  # billing_0033_discounts_anytime
            "(minimum_amount IS NULL) = (minimum_amount_currency IS NULL)"
            " AND (minimum_amount IS NULL OR minimum_amount > 0)"
            " AND (minimum_amount_currency IS NULL OR minimum_amount_currency ~ '^[A-Z]{3}$')",
            name="minimum_amount",
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.coupons.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(Text, unique=True)
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    times_redeemed: Mapped[int] = mapped_column(Integer, server_default="0")
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    # Stripe's restrictions (billing_0033_discounts_anytime)
    first_time_transaction: Mapped[bool] = mapped_column(server_default=text("false"))
    minimum_amount: Mapped[int | None] = mapped_column(BigInteger)
    minimum_amount_currency: Mapped[str | None] = mapped_column(Text)


class Discount(Base):
    """A coupon applied to an account (every invoice of it; `subscription_id` NULL) or to one
    subscription (its invoices, overriding the account's), from `starts_at` until `ends_at`
    (a repeating coupon's months; NULL: once or forever) or until it ended earlier (`ended_at`,
    `end_reason`: used by its one invoice, expired, removed). At most one in force per account
    and per subscription (billing_0033_discounts_anytime)."""

    __tablename__ = "discounts"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("end_reason IN ('used', 'expired', 'removed')", name="end_reason"),
        CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended"),
        Index(
            "uq_discounts_account_in_force",
            "account_id",
            unique=True,
            postgresql_where=text("subscription_id IS NULL AND ended_at IS NULL"),
        ),
        Index(
            "uq_discounts_subscription_in_force",
            "subscription_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_discounts_org_id_id", "org_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.subscriptions.id", ondelete="RESTRICT")
    )
    coupon_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.coupons.id", ondelete="RESTRICT"))
    promotion_code_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.promotion_codes.id", ondelete="RESTRICT")
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)
    applied_by_operator: Mapped[bool] = mapped_column(server_default=text("false"))
    applied_by: Mapped[str | None] = mapped_column(Text)
    ended_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
REFUND_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")


class Refund(Timestamped, Base):
    """Money returned from a payment. Pending and succeeded refunds count against the payment
    (their sum never exceeds it: checked under the payment's row lock); `provider_refund_id` is
    learnt from the provider's answer (unique: a redelivered event records nothing twice)."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("provider", "provider_refund_id"),
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(f"reason IS NULL OR reason IN {REFUND_REASONS}", name="reason"),
        CheckConstraint(f"status IN {REFUND_STATUSES}", name="status"),
        Index("ix_refunds_org_id_id", "org_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.payments.id", ondelete="RESTRICT"), index=True
    )
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT")
    )
    credit_note_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.credit_notes.id", ondelete="RESTRICT")
    )
    provider: Mapped[str] = mapped_column(Text)
    provider_refund_id: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)


CREDIT_NOTE_REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")


class CreditNote(Base):
    """A correction of a finalized invoice, numbered from its own gapless sequence and
    immutable once issued (a trigger lets only `status` and `voided_at` move, issued -> void).
    `amount` = `pre_payment_amount` (off an open invoice's amount_due) + `refund_amount` +
    `credit_amount` (a pending credit for the next invoice, `pending_charge_id`)."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint(f"reason IN {CREDIT_NOTE_REASONS}", name="reason"),
        CheckConstraint("status IN ('issued', 'void')", name="status"),
        CheckConstraint("(status = 'void') = (voided_at IS NOT NULL)", name="voided_when_void"),
        CheckConstraint(
            "amount > 0 AND pre_payment_amount >= 0 AND refund_amount >= 0 AND credit_amount >= 0"
            " AND amount = pre_payment_amount + refund_amount + credit_amount",
            name="amounts",
        ),
        Index("ix_credit_notes_org_id_id", "org_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(Text, unique=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT"), index=True
    )
    invoice_paid: Mapped[bool]
    status: Mapped[str] = mapped_column(Text, server_default="issued")
    currency: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    memo: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    pre_payment_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    refund_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    credit_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    pending_charge_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.pending_charges.id", ondelete="RESTRICT")
    )
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    voided_at: Mapped[datetime | None]
    tax_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")  # billing_0028_tax_rates


class CreditNoteLine(Base):
    """Append-only (a trigger rejects UPDATE and DELETE)."""

    __tablename__ = "credit_note_lines"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("quantity IS NULL OR quantity >= 1", name="quantity"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    credit_note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.credit_notes.id", ondelete="RESTRICT"), index=True
    )
    invoice_line_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoice_line_items.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    tax_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")  # billing_0028_tax_rates


class CreditNoteNumberSequence(Base):
    """The next credit note number of an issuer: the invoices' mechanism (a row lock taken by
    the issuing transaction, so numbers are gapless)."""

    __tablename__ = "credit_note_number_sequences"
    __table_args__ = (CheckConstraint("next_number >= 1", name="next_number"), {"schema": SCHEMA})

    issuer: Mapped[str] = mapped_column(Text, primary_key=True)
    prefix: Mapped[str] = mapped_column(Text)
    next_number: Mapped[int] = mapped_column(BigInteger, server_default="1")


DISPUTE_STATUSES = (
    "warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
    "under_review", "won", "lost",
)  # fmt: skip


class Dispute(Timestamped, Base):
    """A chargeback as the provider reports it (Stripe's `charge.dispute.*`), unique per
    provider id; `payment_id` is the payment whose intent was disputed, when Keel has it."""

    __tablename__ = "disputes"
    __table_args__ = (
        UniqueConstraint("provider", "provider_dispute_id"),
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint(f"status IN {DISPUTE_STATUSES}", name="status"),
        Index("ix_disputes_org_id_id", "org_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.payments.id", ondelete="RESTRICT"), index=True
    )
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT")
    )
    provider: Mapped[str] = mapped_column(Text)
    provider_dispute_id: Mapped[str] = mapped_column(Text)
    provider_charge_id: Mapped[str | None] = mapped_column(Text)
    provider_payment_id: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    evidence_due_by: Mapped[datetime | None]
    funds_withdrawn_at: Mapped[datetime | None]
    funds_reinstated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class PaymentMethod(Timestamped, Base):
    """A projection of a provider's payment method (Stripe's `payment_method.*` and
    `setup_intent.succeeded` events): what it is and when it expires, never a card number.
    At most one default per account (a partial unique index)."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        UniqueConstraint("provider", "provider_payment_method_id"),
        CheckConstraint(f"provider IN {PAYMENT_PROVIDERS}", name="provider"),
        CheckConstraint("status IN ('attached', 'detached')", name="status"),
        CheckConstraint("last4 IS NULL OR last4 ~ '^[0-9]{4}$'", name="last4"),
        CheckConstraint("exp_month IS NULL OR exp_month BETWEEN 1 AND 12", name="exp_month"),
        CheckConstraint("billing_country IS NULL OR billing_country ~ '^[A-Z]{2}$'", name="billing_country"),
        CheckConstraint("NOT (is_default AND status = 'detached')", name="default_attached"),
        Index("ix_payment_methods_account_id", "account_id"),
        Index(
            "uq_payment_methods_one_default", "account_id", unique=True, postgresql_where=text("is_default")
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    provider: Mapped[str] = mapped_column(Text)
    provider_payment_method_id: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    brand: Mapped[str | None] = mapped_column(Text)
    last4: Mapped[str | None] = mapped_column(Text)
    exp_month: Mapped[int | None] = mapped_column(SmallInteger)
    exp_year: Mapped[int | None] = mapped_column(SmallInteger)
    billing_country: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(server_default=text("false"))
    status: Mapped[str] = mapped_column(Text, server_default="attached")
    detach_requested_at: Mapped[datetime | None]
    detached_at: Mapped[datetime | None]


OVERDUE_STATES = ("current", "past_due", "unpaid", "canceled", "frozen")


class OverduePolicy(Timestamped, Base):
    """How dunning treats an account that does not pay: the retry schedule of failed automatic
    payments (days between attempts) and the days past due at which each step of the ladder
    is taken (NULL: never). One default (`account_id` NULL) and at most one per account."""

    __tablename__ = "overdue_policies"
    __table_args__ = (
        UniqueConstraint("account_id", postgresql_nulls_not_distinct=True),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name"),
        CheckConstraint(
            "cardinality(retry_days) <= 10 AND array_position(retry_days, NULL) IS NULL"
            " AND 1 <= ALL(retry_days) AND 60 >= ALL(retry_days)",
            name="retry_days",
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(Text)
    retry_days: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    past_due_after_days: Mapped[int] = mapped_column(Integer)
    unpaid_after_days: Mapped[int | None] = mapped_column(Integer)
    cancel_after_days: Mapped[int | None] = mapped_column(Integer)
    freeze_after_days: Mapped[int | None] = mapped_column(Integer)


class OverdueState(Timestamped, Base):
    """Where an account stands on the overdue ladder. `episode` counts its overdue episodes
    (one ends when the account is paid up); `invoice_id` is the oldest unpaid invoice."""

    __tablename__ = "overdue_states"
    __table_args__ = (
        CheckConstraint(f"state IN {OVERDUE_STATES}", name="state"),
        CheckConstraint("episode >= 0", name="episode"),
        {"schema": SCHEMA},
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(Text, server_default="current")
    episode: Mapped[int] = mapped_column(Integer, server_default="0")
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT")
    )
    since: Mapped[datetime] = mapped_column(server_default=text("now()"))


class OverdueTransition(Base):
    """Append-only trail of the ladder (a trigger rejects UPDATE and DELETE): each step at
    most once per account and episode (unique), with the invoice that drove it and the
    subscriptions it acted on."""

    __tablename__ = "overdue_transitions"
    __table_args__ = (
        UniqueConstraint("account_id", "episode", "to_state"),
        CheckConstraint(f"from_state IN {OVERDUE_STATES}", name="from_state"),
        CheckConstraint(f"to_state IN {OVERDUE_STATES}", name="to_state"),
        CheckConstraint("from_state <> to_state", name="moves"),
        Index("ix_overdue_transitions_org_id_at", "org_id", "at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    org_id: Mapped[uuid.UUID]
    episode: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str] = mapped_column(Text)
    to_state: Mapped[str] = mapped_column(Text)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.invoices.id", ondelete="RESTRICT")
    )
    subscription_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), server_default="{}")
    days_past_due: Mapped[int | None] = mapped_column(Integer)
    policy_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime]
    actor_type: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(Text)


UNPRICED_USAGE_STATUSES = ("open", "priced", "waived")


class UnpricedUsage(Timestamped, Base):
    """Overage no price could price (billing_0025_self_service_bounds): it waits here, never on
    an invoice at 0, until an operator prices it (it becomes a usage pending charge) or waives
    it with a reason."""

    __tablename__ = "unpriced_usage"
    __table_args__ = (
        CheckConstraint(f"status IN {UNPRICED_USAGE_STATUSES}", name="status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "(status = 'priced')"
            " = (price_id IS NOT NULL AND amount IS NOT NULL AND pending_charge_id IS NOT NULL)",
            name="priced",
        ),
        CheckConstraint("(status = 'waived') = (waive_reason IS NOT NULL)", name="waived"),
        CheckConstraint("(status = 'open') = (resolved_at IS NULL)", name="resolved"),
        Index("ix_unpriced_usage_open", "created_at", postgresql_where=text("status = 'open'")),
        Index("ix_unpriced_usage_org_id_id", "org_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.billing_accounts.id", ondelete="RESTRICT")
    )
    resource_key: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric)
    price_ref: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    usage_event_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), server_default="{}")
    status: Mapped[str] = mapped_column(Text, server_default="open")
    price_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("billing.prices.id", ondelete="RESTRICT"))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    pending_charge_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.pending_charges.id", ondelete="RESTRICT")
    )
    waive_reason: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]


from modules.billing.models.credit_grants import CreditGrant, CreditTransaction  # noqa: E402,F401
from modules.billing.models.plan_changes import ScheduledChange, SubscriptionPause  # noqa: E402,F401
from modules.billing.models.purchases import Purchase  # noqa: E402,F401
from modules.billing.models.tax import InvoiceLineTax, TaxRate  # noqa: E402,F401
