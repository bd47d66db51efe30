"""billing's public data: DTOs and versioned events.

Money is integer minor units with an ISO 4217 currency (`unit_amount: 1999`, `currency: "EUR"`
is 19.99 EUR). Prorations are computed to the second and rounded half-to-even to the minor unit."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from platform_core.core.ranges import PositiveInt64

Interval = Literal["day", "week", "month", "year"]
PriceType = Literal["recurring", "one_time"]
UsageType = Literal["licensed", "metered"]
BillingScheme = Literal["per_unit", "tiered"]
TiersMode = Literal["graduated", "volume"]
CollectionMethod = Literal["charge_automatically", "send_invoice"]
PaymentProviderName = Literal["stripe", "manual"]
TierAmount = Annotated[int, msgspec.Meta(ge=0, le=10**15)]  # like every amount a client sends
SubscriptionStatus = Literal["incomplete", "trialing", "active", "past_due", "paused", "canceled", "unpaid"]

# Events
ACCOUNT_CREATED = "billing.account.created"
ACCOUNT_UPDATED = "billing.account.updated"
PRODUCT_CREATED = "billing.product.created"
PRODUCT_UPDATED = "billing.product.updated"
PRICE_CREATED = "billing.price.created"
PRICE_UPDATED = "billing.price.updated"
SUBSCRIPTION_CREATED = "billing.subscription.created"
SUBSCRIPTION_UPDATED = "billing.subscription.updated"
SUBSCRIPTION_RENEWED = "billing.subscription.renewed"
SUBSCRIPTION_CANCELED = "billing.subscription.canceled"


class Tier(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Up to `up_to` units (None: the last tier, unbounded): `unit_amount` per unit and a
    `flat_amount` once for reaching the tier."""

    up_to: PositiveInt64 | None
    unit_amount: TierAmount = 0
    flat_amount: TierAmount = 0


class BillingAccountDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    email: str
    currency: str
    address: dict[str, Any] | None
    tax_ids: list[dict[str, Any]]
    provider_customer_id: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    # collection (see PaymentIntentRequest): how invoices are paid
    collection_method: CollectionMethod = "send_invoice"
    provider: PaymentProviderName = "manual"
    days_until_due: int = 30
    default_payment_method_id: uuid.UUID | None = None


class ProductDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    entitlement_set_id: uuid.UUID | None
    active: bool
    created_at: datetime
    trial_period_days: int | None = None  # the trial offered (operators set it)


class PriceDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    product_id: uuid.UUID
    lookup_key: str | None
    currency: str
    type: PriceType
    unit_amount: int | None
    interval: Interval | None
    interval_count: int
    usage_type: UsageType
    billing_scheme: BillingScheme
    tiers: list[Tier] | None
    tiers_mode: TiersMode | None
    metered_resource_key: str | None
    active: bool
    created_at: datetime
    trial_period_days: int | None = None  # the trial offered (operators set it); else the product's


class SubscriptionItemDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    price_id: uuid.UUID
    quantity: int
    provision_id: uuid.UUID | None


class SubscriptionDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    account_id: uuid.UUID
    pool_id: uuid.UUID
    status: SubscriptionStatus
    currency: str
    interval: Interval
    interval_count: int
    billing_cycle_anchor: datetime
    current_period_start: datetime
    current_period_end: datetime
    trial_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    items: list[SubscriptionItemDTO]
    created_at: datetime


class ProrationLine(msgspec.Struct, frozen=True, kw_only=True):
    """What a change is worth for the rest of the current period: positive is owed by the
    customer, negative is credit. Invoicing turns these into pending charges."""

    item_id: uuid.UUID
    description: str
    amount: int
    currency: str
    period_start: datetime
    period_end: datetime


class SubscriptionChangeDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    subscription_id: uuid.UUID
    kind: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    proration: list[ProrationLine]
    effective_at: datetime
    actor_type: str
    actor_id: str | None
    created_at: datetime


InvoiceStatus = Literal["draft", "open", "paid", "uncollectible", "void"]

INVOICE_FINALIZED = "billing.invoice.finalized"
INVOICE_PAID = "billing.invoice.paid"
INVOICE_VOIDED = "billing.invoice.voided"


class InvoiceEventData(msgspec.Struct, frozen=True, kw_only=True):
    """The data of every `billing.invoice.*` event (the subject is the invoice)."""

    number: str
    account_id: uuid.UUID
    currency: str
    total: int
    amount_due: int
    amount_paid: int


class PaymentError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a payment attempt failed, as the provider said (Stripe's `last_payment_error`)."""

    code: str | None = None
    message: str | None = None
    decline_code: str | None = None
    type: str | None = None  # card_error, invalid_request_error, …
    payment_intent: str | None = None  # the provider's id of the failed attempt, if one was made


class InvoiceLineDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    source: str
    source_id: uuid.UUID | None
    description: str
    quantity: int | None
    unit_amount: int | None
    amount: int
    discount_amount: int
    period_start: datetime | None
    period_end: datetime | None
    tax_amounts: list[TaxAmountDTO] = []  # its tax (billing_0028_tax_rates); none: untaxed
    price_id: uuid.UUID | None = None


class InvoiceDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    account_id: uuid.UUID
    subscription_id: uuid.UUID | None
    number: str | None
    status: InvoiceStatus
    currency: str
    period_start: datetime | None
    period_end: datetime | None
    subtotal: int
    discount_total: int
    credit_applied: int
    total: int
    amount_due: int
    amount_paid: int
    due_date: datetime | None
    finalized_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    lines: list[InvoiceLineDTO]
    amount_refunded: int = 0  # pending and succeeded refunds of its payment
    amount_credited: int = 0  # issued credit notes (part may have come off amount_due)
    # automatic collection: failed attempts so far, when the next one is due, the last error
    collection_method: CollectionMethod = "send_invoice"
    attempt_count: int = 0
    next_payment_attempt: datetime | None = None
    last_payment_error: PaymentError | None = None
    # tax (billing_0028_tax_rates): total = subtotal - discount_total + exclusive_tax
    tax: int = 0
    exclusive_tax: int = 0
    reverse_charge: bool = False
    total_tax_amounts: list[TaxAmountDTO] = []
    auto_finalize_at: datetime | None = None  # a draft: when the finalize job finalizes it


PAYMENT_RECEIVED = "billing.payment.received"


class PaymentDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    invoice_id: uuid.UUID | None
    provider: str
    provider_payment_id: str
    amount: int
    currency: str
    status: str  # succeeded, or unmatched (see note)
    note: str | None
    received_at: datetime


CouponDuration = Literal["once", "repeating", "forever"]

COUPON_CREATED = "billing.coupon.created"
PROMOTION_CODE_CREATED = "billing.promotion_code.created"


class CouponDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    key: str
    name: str
    percent_off_bp: int | None  # basis points: 2500 is 25 %
    amount_off: int | None
    currency: str | None
    duration: CouponDuration
    duration_in_periods: int | None
    max_redemptions: int | None
    times_redeemed: int
    redeem_by: datetime | None
    active: bool


class PromotionCodeDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    coupon_id: uuid.UUID
    code: str
    active: bool
    max_redemptions: int | None
    times_redeemed: int
    expires_at: datetime | None
    # Stripe's restrictions (billing_0033_discounts_anytime)
    first_time_transaction: bool = False
    minimum_amount: int | None = None
    minimum_amount_currency: str | None = None


# Refunds (after Stripe's Refund object). `billing.refund.created` asks the payment's
# provider to return the money (integration's provider relay acts on it; nothing for `manual`,
# where an operator confirms); `billing.refund.updated` reports every later status change.
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
RefundStatus = Literal["pending", "requires_action", "succeeded", "failed", "canceled"]

REFUND_CREATED = "billing.refund.created"
REFUND_UPDATED = "billing.refund.updated"


class RefundDTO(msgspec.Struct, frozen=True, kw_only=True):
    """A refund of (part of) a payment; also the data of `billing.refund.*` events (the
    subject is the refund). The provider is asked with `metadata.keel_refund_id = id`."""

    id: uuid.UUID
    org_id: uuid.UUID | None
    account_id: uuid.UUID | None
    payment_id: uuid.UUID
    invoice_id: uuid.UUID | None
    credit_note_id: uuid.UUID | None
    provider: str
    provider_payment_id: str
    provider_refund_id: str | None
    amount: int
    currency: str
    reason: RefundReason | None
    status: RefundStatus
    previous_status: RefundStatus | None = None  # on `billing.refund.updated`
    failure_reason: str | None
    created_at: datetime


# Credit notes (after Stripe's CreditNote): a finalized invoice's correction. Its `amount`
# goes out as `pre_payment_amount` (off an open invoice's amount_due), `refund_amount` (a
# refund of the invoice's payment) and `credit_amount` (credit for the next invoice).
CreditNoteReason = Literal["duplicate", "fraudulent", "order_change", "product_unsatisfactory"]
CreditNoteStatus = Literal["issued", "void"]

CREDIT_NOTE_CREATED = "billing.credit_note.created"
CREDIT_NOTE_VOIDED = "billing.credit_note.voided"


class CreditNoteLineDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    invoice_line_id: uuid.UUID | None  # None: an amount not tied to a line
    description: str
    quantity: int | None
    amount: int
    tax_amount: int = 0  # the tax inside `amount` (billing_0028_tax_rates)


class CreditNoteDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Also the data of `billing.credit_note.*` events (the subject is the credit note).
    `invoice_paid`: whether the invoice was paid when the note was issued (its refunded and
    credited parts are then negative patronage)."""

    id: uuid.UUID
    number: str
    org_id: uuid.UUID
    account_id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_paid: bool
    status: CreditNoteStatus
    currency: str
    reason: CreditNoteReason
    memo: str | None
    amount: int
    pre_payment_amount: int
    refund_amount: int
    credit_amount: int
    refund_id: uuid.UUID | None
    lines: list[CreditNoteLineDTO]
    created_at: datetime
    voided_at: datetime | None
    tax_amount: int = 0  # the tax inside `amount`: its lines' shares (billing_0028_tax_rates)


# Disputes (after Stripe's Dispute), projected from Stripe's `charge.dispute.*` events.
DisputeStatus = Literal[
    "warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
    "under_review", "won", "lost",
]  # fmt: skip

DISPUTE_CREATED = "billing.dispute.created"
DISPUTE_UPDATED = "billing.dispute.updated"
DISPUTE_CLOSED = "billing.dispute.closed"


class DisputeDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Also the data of `billing.dispute.*` events (the subject is the dispute). A `lost`
    dispute counts like a refund of `amount`."""

    id: uuid.UUID
    org_id: uuid.UUID | None
    account_id: uuid.UUID | None
    payment_id: uuid.UUID | None  # None: a charge Keel has no payment for
    invoice_id: uuid.UUID | None
    provider: str
    provider_dispute_id: str
    provider_charge_id: str | None
    provider_payment_id: str | None
    amount: int
    currency: str
    reason: str
    status: DisputeStatus
    evidence_due_by: datetime | None
    funds_withdrawn_at: datetime | None
    funds_reinstated_at: datetime | None
    closed_at: datetime | None
    created_at: datetime


# Collection (services/collection.py) and the requests billing makes of a payment provider:
# integration's provider relay makes the calls and reports the answers as Stripe-shaped
# inbound events (`integration.inbound.stripe.<type>`).
PAYMENT_INTENT_REQUESTED = "billing.payment_intent.requested"
CUSTOMER_REQUESTED = "billing.customer.requested"
INVOICE_PAYMENT_FAILED = "billing.invoice.payment_failed"


class PaymentIntentRequest(msgspec.Struct, frozen=True, kw_only=True):
    """`billing.payment_intent.requested`: charge an invoice's amount due. The PaymentIntent's
    metadata carries keel_invoice_id, keel_attempt and keel_request_key."""

    invoice_id: uuid.UUID
    account_id: uuid.UUID
    amount: int
    currency: str
    provider: PaymentProviderName
    provider_customer_id: str | None
    payment_method: str | None  # the provider's id; None: the customer's default
    attempt: int  # 1, 2, …
    request_key: str  # unique per attempt: f"{invoice_id}:{attempt}"


class CustomerRequest(msgspec.Struct, frozen=True, kw_only=True):
    """`billing.customer.requested`: create the account's customer at the provider; the answer
    (`customer.created`, metadata keel_account_id) sets `provider_customer_id`."""

    account_id: uuid.UUID
    provider: PaymentProviderName
    name: str
    email: str
    request_key: str  # f"customer:{account_id}"


class InvoicePaymentFailedData(msgspec.Struct, frozen=True, kw_only=True):
    """`billing.invoice.payment_failed` (the subject is the invoice)."""

    number: str
    account_id: uuid.UUID
    currency: str
    amount_due: int
    attempt_count: int
    next_payment_attempt: datetime | None  # None: no retry is scheduled
    last_payment_error: PaymentError


# Payment methods (services/payment_methods.py): a projection of the provider's
PAYMENT_METHOD_ATTACHED = "billing.payment_method.attached"
PAYMENT_METHOD_UPDATED = "billing.payment_method.updated"
PAYMENT_METHOD_DETACHED = "billing.payment_method.detached"
PAYMENT_METHOD_DETACH_REQUESTED = "billing.payment_method.detach_requested"


class PaymentMethodDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Never a card number: what it is, its last four digits and when it expires."""

    id: uuid.UUID
    account_id: uuid.UUID
    provider: PaymentProviderName
    provider_payment_method_id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    billing_country: str | None
    is_default: bool
    status: Literal["attached", "detached"]
    detach_requested_at: datetime | None
    detached_at: datetime | None
    created_at: datetime


class PaymentMethodDetachRequest(msgspec.Struct, frozen=True, kw_only=True):
    """`billing.payment_method.detach_requested`."""

    account_id: uuid.UUID
    provider: PaymentProviderName
    provider_payment_method_id: str


# Dunning (services/dunning.py, ADR 0015): overdue policies and the ladder they drive.
OverdueStateName = Literal["current", "past_due", "unpaid", "canceled", "frozen"]

OVERDUE_POLICY_CREATED = "billing.overdue_policy.created"
OVERDUE_POLICY_UPDATED = "billing.overdue_policy.updated"
ACCOUNT_OVERDUE_STATE_CHANGED = "billing.account.overdue_state_changed"


class OverduePolicyDTO(msgspec.Struct, frozen=True, kw_only=True):
    """How dunning treats an account that does not pay (`account_id` None: the default)."""

    id: uuid.UUID
    account_id: uuid.UUID | None
    name: str
    retry_days: list[int]  # days between automatic payment attempts after a failure
    past_due_after_days: int
    unpaid_after_days: int | None  # None: never
    cancel_after_days: int | None
    freeze_after_days: int | None
    created_at: datetime
    updated_at: datetime


class OverdueStateChanged(msgspec.Struct, frozen=True, kw_only=True):
    """`billing.account.overdue_state_changed`: one step of the ladder (down, or back to
    `current` when the account is paid up)."""

    account_id: uuid.UUID
    episode: int
    previous: OverdueStateName
    state: OverdueStateName
    invoice_id: uuid.UUID | None
    days_past_due: int | None
    subscription_ids: list[uuid.UUID]
    policy_id: uuid.UUID | None


class SubscriptionStatusChanged(msgspec.Struct, frozen=True, kw_only=True):
    """`billing.subscription.updated` when dunning moves a subscription's status."""

    previous: SubscriptionStatus
    status: SubscriptionStatus
    reason: Literal["overdue", "resolved"]  # resolved: paid up (or a more lenient policy)
    overdue_state: OverdueStateName


class OverdueStepDTO(msgspec.Struct, frozen=True, kw_only=True):
    state: OverdueStateName
    at: datetime  # when the account reaches it if nothing is paid


class OverdueTransitionDTO(msgspec.Struct, frozen=True, kw_only=True):
    previous: OverdueStateName
    state: OverdueStateName
    episode: int
    invoice_id: uuid.UUID | None
    days_past_due: int | None
    subscription_ids: list[uuid.UUID]
    at: datetime


class AccountOverdueDTO(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /billing/orgs/{org_id}/overdue`: where the organization's account stands."""

    org_id: uuid.UUID
    account_id: uuid.UUID | None
    state: OverdueStateName
    since: datetime | None
    oldest_unpaid_invoice_id: uuid.UUID | None
    amount_overdue: int  # minor units, over every invoice past its due date
    currency: str | None
    days_past_due: int | None
    next_step: OverdueStepDTO | None
    policy_id: uuid.UUID | None
    transitions: list[OverdueTransitionDTO]  # this episode's steps, oldest first


# Unpriced usage (services/unpriced_usage.py): overage no price could price, for operators
UNPRICED_USAGE_CREATED = "billing.unpriced_usage.created"
UNPRICED_USAGE_PRICED = "billing.unpriced_usage.priced"
UNPRICED_USAGE_WAIVED = "billing.unpriced_usage.waived"
UnpricedUsageStatus = Literal["open", "priced", "waived"]


class UnpricedUsageDTO(msgspec.Struct, frozen=True, kw_only=True):
    """`quantity` is a decimal string; `reason` says why no price priced it."""

    id: uuid.UUID
    org_id: uuid.UUID
    account_id: uuid.UUID
    resource_key: str
    quantity: str
    price_ref: str | None
    reason: str
    period_start: datetime | None
    period_end: datetime | None
    usage_event_ids: list[uuid.UUID]
    status: UnpricedUsageStatus
    price_id: uuid.UUID | None
    amount: int | None
    currency: str
    pending_charge_id: uuid.UUID | None
    waive_reason: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime


# Reconciliation (services/reconcile.py; `keel billing reconcile`)
class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """One broken invariant: which (`invariant`), about what (`subject_type`, `subject_id`,
    the organization) and the numbers that disagree (`detail`)."""

    invariant: str
    subject_type: str
    subject_id: str
    org_id: uuid.UUID | None
    detail: str


class AccountNet(msgspec.Struct, frozen=True, kw_only=True):
    """What an account's members have contributed, by billing's books: paid invoices minus
    succeeded refunds, the credited part of paid invoices and lost disputes."""

    account_id: uuid.UUID
    org_id: uuid.UUID
    currency: str
    net: int


class MoneyDocument(msgspec.Struct, frozen=True, kw_only=True):
    """A payment, refund, credit note or dispute and the event that announced its creation,
    recorded exactly once; or, for a refund made at the provider (its dashboard) that Keel
    only learnt of, `billing.refund.updated`, recorded at least once (`at_least_once`)."""

    subject_type: str
    subject_id: uuid.UUID
    org_id: uuid.UUID | None
    created_event: str
    at_least_once: bool = False


# Credit grants (billing_0027_credit_grants): services/credit_grants.py, routes/credit_grants.py
CREDIT_GRANT_CREATED = "billing.credit_grant.created"
CREDIT_GRANT_VOIDED = "billing.credit_grant.voided"
CREDIT_GRANT_EXPIRED = "billing.credit_grant.expired"
CreditCategory = Literal["promotional", "paid"]
CreditSourceType = Literal[
    "operator", "carried_credit", "overpayment", "credit_note", "patronage", "pending_charge"
]
CreditTransactionKind = Literal["grant", "applied", "restored", "expired", "voided"]


class CreditGrantDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Credit an account spends on its invoices in burn order (lower `priority` first, then the
    soonest expiry, then the oldest). `remaining` is the sum of its ledger; `applies_to_price_ids`
    empty: it pays any line."""

    id: uuid.UUID
    org_id: uuid.UUID
    account_id: uuid.UUID
    category: CreditCategory
    amount: int
    currency: str
    remaining: int
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    applies_to_price_ids: list[uuid.UUID]
    description: str
    source_type: CreditSourceType
    source_id: uuid.UUID
    voided_at: datetime | None
    expired_at: datetime | None
    created_at: datetime


class CreditTransactionDTO(msgspec.Struct, frozen=True, kw_only=True):
    """One ledger row: signed (`grant`, `restored` add; `applied`, `expired`, `voided` take)."""

    id: uuid.UUID
    grant_id: uuid.UUID
    kind: CreditTransactionKind
    amount: int
    invoice_id: uuid.UUID | None
    created_at: datetime


class CurrencyCreditBalance(msgspec.Struct, frozen=True, kw_only=True):
    """`balance`: the sum of the ledger of the account's grants in `currency`; `available`: the
    part an invoice finalized now could use (effective, not expired)."""

    currency: str
    balance: int
    available: int


class CreditBalanceDTO(msgspec.Struct, frozen=True, kw_only=True):
    account_id: uuid.UUID
    balances: list[CurrencyCreditBalance]
    grants: list[CreditGrantDTO]  # every grant with something left, in burn order


# tax rates (billing_0028_tax_rates)
TAX_RATE_CREATED = "billing.tax_rate.created"
TAX_RATE_UPDATED = "billing.tax_rate.updated"


class TaxRateDTO(msgspec.Struct, frozen=True, kw_only=True):
    """An operator's tax rate, after Stripe's: `percentage` (0 <= p < 100, four decimals, a
    decimal string) inclusive (in the price) or exclusive (added to it), for a `country` (ISO
    3166-1 alpha-2) and optionally a `state` (ISO 3166-2 subdivision code without the country).
    Immutable except `active`."""

    id: uuid.UUID
    display_name: str
    description: str | None
    percentage: Decimal
    inclusive: bool
    country: str
    state: str | None
    active: bool
    created_at: datetime


class TaxAmountDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Tax of one line, or of one rate over an invoice (the sum of its lines' taxes, never
    recomputed). `taxable_amount` excludes the tax, inclusive rates too. A reverse-charged
    amount names no rate: 0 tax, the customer accounts for it."""

    tax_rate_id: uuid.UUID | None
    display_name: str
    percentage: Decimal
    inclusive: bool
    taxable_amount: int
    amount: int
    reverse_charge: bool = False


# Discounts on accounts and subscriptions (billing_0033_discounts_anytime)
DISCOUNT_APPLIED = "billing.discount.applied"
DISCOUNT_REMOVED = "billing.discount.removed"
DiscountEndReason = Literal["used", "expired", "removed"]


class DiscountDTO(msgspec.Struct, frozen=True, kw_only=True):
    """A coupon applied to an account (`subscription_id` null: every invoice of the account)
    or to one subscription (its invoices; it overrides the account's); also the data of
    `billing.discount.*` events. `status` is `active` while it still applies to new invoices."""

    id: uuid.UUID
    org_id: uuid.UUID
    account_id: uuid.UUID
    subscription_id: uuid.UUID | None
    coupon: CouponDTO
    promotion_code: str | None
    status: Literal["active", "ended"]
    starts_at: datetime
    ends_at: datetime | None  # a repeating coupon's end; null: once (until used) or forever
    ended_at: datetime | None
    end_reason: DiscountEndReason | None
    applied_by: str | None
    applied_by_operator: bool
    ended_by: str | None


# One-time purchases (billing_0029_purchases)
PURCHASE_CREATED = "billing.purchase.created"
PURCHASE_VOIDED = "billing.purchase.voided"
PurchaseStatus = Literal["completed", "void"]


class PurchaseDTO(msgspec.Struct, frozen=True, kw_only=True):
    """One `one_time` price x quantity bought by an account. `amount` is the price's amount for
    the quantity (tiers applied) in minor units. `invoice_id` is the invoice that bills it:
    its own when invoiced at once, else the account's next invoice once one takes its
    `pending_charge_id` (None until then). `provision_id`: its product's entitlement set in
    `pool_id`, non-expiring; a voided purchase's provision is revoked."""

    id: uuid.UUID
    org_id: uuid.UUID
    account_id: uuid.UUID
    pool_id: uuid.UUID | None
    price_id: uuid.UUID
    description: str
    quantity: int
    amount: int
    currency: str
    status: PurchaseStatus
    invoice_id: uuid.UUID | None
    pending_charge_id: uuid.UUID | None
    provision_id: uuid.UUID | None
    created_by: str | None
    created_at: datetime
    voided_at: datetime | None


class PurchaseOrderDTO(msgspec.Struct, frozen=True, kw_only=True):
    """What one purchase request bought: a purchase per item, and the invoice finalized for
    them (None when they wait for the account's next invoice)."""

    purchases: list[PurchaseDTO]
    invoice: InvoiceDTO | None


# Plan changes, scheduled changes, pauses and the upcoming invoice (billing_0032_plan_changes)
ProrationBehavior = Literal["create_prorations", "none", "always_invoice"]
PauseBehavior = Literal["keep_as_draft", "mark_uncollectible", "void"]
ScheduledChangeStatus = Literal["scheduled", "applied", "canceled"]
SUBSCRIPTION_PAUSED = "billing.subscription.paused"
SUBSCRIPTION_RESUMED = "billing.subscription.resumed"
INVOICE_MARKED_UNCOLLECTIBLE = "billing.invoice.marked_uncollectible"


class ItemChange(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a plan change (Stripe's `items[]`): `id` names an item (absent: a new one),
    `price_id` swaps or sets its price, `quantity` its quantity, `deleted` removes it."""

    id: uuid.UUID | None = None
    price_id: uuid.UUID | None = None
    quantity: int | None = None
    deleted: bool = False


class ScheduledChangeDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Item changes waiting for `effective_at` (the period's end), applied by the renewal
    before the new period is invoiced. `outcome` says why a change was not applied."""

    id: uuid.UUID
    subscription_id: uuid.UUID
    items: list[ItemChange]
    effective_at: datetime
    status: ScheduledChangeStatus
    outcome: str | None
    applied_at: datetime | None
    canceled_at: datetime | None
    created_at: datetime


class PlanChangeDTO(msgspec.Struct, frozen=True, kw_only=True):
    """A plan change's result: the subscription now, the proration it created, the invoice
    `always_invoice` finalized at once, or the scheduled change when it waits for the period's end."""

    subscription: SubscriptionDTO
    proration: list[ProrationLine]
    invoice: InvoiceDTO | None
    scheduled_change: ScheduledChangeDTO | None


class SubscriptionPauseDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Collection paused (Stripe's `pause_collection`) from `paused_at`; in force while
    `resumed_at` is None; resumed automatically at `resumes_at`."""

    id: uuid.UUID
    subscription_id: uuid.UUID
    behavior: PauseBehavior
    resumes_at: datetime | None
    paused_at: datetime
    resumed_at: datetime | None


class UpcomingLineDTO(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    description: str
    amount: int
    discount_amount: int
    quantity: int | None
    unit_amount: int | None
    period_start: datetime | None
    period_end: datetime | None
    price_id: uuid.UUID | None


class UpcomingInvoiceDTO(msgspec.Struct, frozen=True, kw_only=True):
    """The invoice the subscription's next period would get, computed without writing anything
    (no number, no id): its licensed items, the account's pending charges (with the proposed
    change's proration), discounts, tax and credit. `proration` repeats the lines the proposed
    change would create, at `proration_date`."""

    account_id: uuid.UUID
    subscription_id: uuid.UUID
    currency: str
    period_start: datetime
    period_end: datetime
    lines: list[UpcomingLineDTO]
    proration: list[ProrationLine]
    proration_date: datetime | None
    subtotal: int
    discount_total: int
    tax: int
    total: int
    credit_applied: int
    amount_due: int
