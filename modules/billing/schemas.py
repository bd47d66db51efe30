"""HTTP request bodies of billing's routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from modules.billing.contracts import (
    BillingScheme,
    CollectionMethod,
    Interval,
    PaymentProviderName,
    PriceType,
    Tier,
    TiersMode,
    UsageType,
)
from platform_core.core.decimals import JSONDecimal
from platform_core.core.ranges import PositiveInt32

Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[
    str, msgspec.Meta(pattern=r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$", max_length=320)
]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
Key = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.-]{0,99}$")]
Amount = Annotated[int, msgspec.Meta(ge=0, le=10**15)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
DaysUntilDue = Annotated[int, msgspec.Meta(ge=0, le=365)]
TrialDays = Annotated[int, msgspec.Meta(ge=1, le=730)]


class CreateAccount(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    email: Email
    currency: Currency
    address: dict[str, Any] | None = None
    tax_ids: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=10)] = []
    collection_method: CollectionMethod = "send_invoice"
    days_until_due: DaysUntilDue = 30
    provider: PaymentProviderName = "manual"  # operators only


class UpdateAccount(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    email: Email | msgspec.UnsetType = msgspec.UNSET
    address: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
    tax_ids: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=10)] | msgspec.UnsetType = msgspec.UNSET
    collection_method: CollectionMethod | msgspec.UnsetType = msgspec.UNSET
    days_until_due: DaysUntilDue | msgspec.UnsetType = msgspec.UNSET
    provider: PaymentProviderName | msgspec.UnsetType = msgspec.UNSET  # operators only


class CreateProduct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`entitlement_set_key`: its latest version is pinned now; or an exact version by id."""

    # not both (services.catalog)
    __json_schema_rules__: ClassVar[dict[str, Any]] = {
        "not": {
            "required": ["entitlement_set_key", "entitlement_set_id"],
            "properties": {
                "entitlement_set_key": {"type": "string"},
                "entitlement_set_id": {"type": "string"},
            },
        }
    }

    key: Key
    name: Name
    description: Text | None = None
    entitlement_set_key: str | None = None
    entitlement_set_id: uuid.UUID | None = None
    trial_period_days: TrialDays | None = None


class UpdateProduct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Text | msgspec.UnsetType | None = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    entitlement_set_key: str | msgspec.UnsetType = msgspec.UNSET
    trial_period_days: TrialDays | msgspec.UnsetType | None = msgspec.UNSET


class CreatePrice(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # what services.catalog checks across fields (defaults: recurring, licensed, per_unit)
    __json_schema_rules__: ClassVar[dict[str, Any]] = {
        "allOf": [
            {
                "if": {"required": ["type"], "properties": {"type": {"const": "one_time"}}},
                "then": {"properties": {"interval": {"type": "null"}}},
                "else": {"required": ["interval"], "properties": {"interval": {"type": "string"}}},
            },
            {
                "if": {"required": ["usage_type"], "properties": {"usage_type": {"const": "metered"}}},
                "then": {
                    "required": ["metered_resource_key"],
                    "properties": {
                        "metered_resource_key": {"type": "string", "minLength": 1},
                        "type": {"const": "recurring"},
                    },
                },
                "else": {
                    "properties": {"metered_resource_key": {"anyOf": [{"type": "null"}, {"const": ""}]}}
                },
            },
            {
                "if": {"required": ["billing_scheme"], "properties": {"billing_scheme": {"const": "tiered"}}},
                "then": {
                    "required": ["tiers", "tiers_mode"],
                    "properties": {
                        "unit_amount": {"type": "null"},
                        "tiers": {"type": "array"},
                        "tiers_mode": {"type": "string"},
                    },
                },
                "else": {
                    "required": ["unit_amount"],
                    "properties": {
                        "unit_amount": {"type": "integer"},
                        "tiers": {"type": "null"},
                        "tiers_mode": {"type": "null"},
                    },
                },
            },
        ]
    }

    currency: Currency
    type: PriceType = "recurring"
    unit_amount: Amount | None = None
    interval: Interval | None = None
    interval_count: Annotated[int, msgspec.Meta(ge=1, le=365)] = 1
    usage_type: UsageType = "licensed"
    billing_scheme: BillingScheme = "per_unit"
    tiers: Annotated[list[Tier], msgspec.Meta(min_length=1, max_length=20)] | None = None
    tiers_mode: TiersMode | None = None
    metered_resource_key: str | None = None
    lookup_key: Key | None = None
    trial_period_days: TrialDays | None = None


class SetPriceActive(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    active: bool


class ItemIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    price_id: uuid.UUID
    quantity: Quantity = 1


class CreateSubscription(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    account_id: uuid.UUID
    pool_id: uuid.UUID
    items: Annotated[list[ItemIn], msgspec.Meta(min_length=1, max_length=20)]
    # the trial is the operators' (the prices' trial_period_days, else their products'); a
    # customer may only shorten it: fewer days (0: none) or an earlier trial_end
    trial_period_days: Annotated[int, msgspec.Meta(ge=0, le=730)] | None = None
    trial_end: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    promotion_code: Annotated[str, msgspec.Meta(min_length=3, max_length=50)] | None = None


class ChangeQuantity(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    quantity: Quantity


class Cancel(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    at_period_end: bool = True


class CreateCoupon(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # percent_off_bp or amount_off (with its currency), as services.discounts checks; if/then
    # rather than oneOf, which client generators read as a union of the branches alone
    # and duration_in_periods with, and only with, duration "repeating" (the default is "once")
    __json_schema_rules__: ClassVar[dict[str, Any]] = {
        "allOf": [
            {
                "if": {"required": ["amount_off"], "properties": {"amount_off": {"type": "integer"}}},
                "then": {
                    "required": ["currency"],
                    "properties": {"currency": {"type": "string"}, "percent_off_bp": {"type": "null"}},
                },
                "else": {
                    "required": ["percent_off_bp"],
                    "properties": {"percent_off_bp": {"type": "integer"}},
                },
            },
            {
                "if": {"required": ["duration"], "properties": {"duration": {"const": "repeating"}}},
                "then": {
                    "required": ["duration_in_periods"],
                    "properties": {"duration_in_periods": {"type": "integer"}},
                },
                "else": {"properties": {"duration_in_periods": {"type": "null"}}},
            },
        ]
    }

    key: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")]
    name: Name
    percent_off_bp: Annotated[int, msgspec.Meta(ge=1, le=10000)] | None = None
    amount_off: Annotated[int, msgspec.Meta(ge=1, le=10**15)] | None = None
    currency: Currency | None = None
    duration: Literal["once", "repeating", "forever"] = "once"
    duration_in_periods: Annotated[int, msgspec.Meta(ge=1, le=120)] | None = None
    max_redemptions: PositiveInt32 | None = None
    redeem_by: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class CreatePromotionCode(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,49}$")]
    max_redemptions: PositiveInt32 | None = None
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    # Stripe's restrictions (billing_0033_discounts_anytime): only an account with no open or
    # paid invoice yet; a minimum recurring amount (with its currency) of what it applies to
    first_time_transaction: bool = False
    minimum_amount: Annotated[int, msgspec.Meta(ge=1, le=10**15)] | None = None
    minimum_amount_currency: Currency | None = None


PositiveAmount = Annotated[int, msgspec.Meta(ge=1, le=10**15)]


class CreateRefund(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`amount` absent: everything of the payment not yet refunded."""

    reason: Literal["duplicate", "fraudulent", "requested_by_customer"]
    amount: PositiveAmount | None = None


class CreditNoteLineIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A line of the invoice: `amount`, or `quantity` (that share of the line), or neither
    (what is left of the line)."""

    invoice_line_id: uuid.UUID
    quantity: Quantity | None = None
    amount: PositiveAmount | None = None


class CreateCreditNote(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`lines` or one `amount`. On a paid invoice the total goes out as `refund_amount`
    and `credit_amount` (default: what the refund leaves); on an open invoice whatever
    `credit_amount` leaves comes off the amount due."""

    __json_schema_rules__: ClassVar[dict[str, Any]] = {
        "if": {"required": ["lines"], "properties": {"lines": {"type": "array"}}},
        "then": {"properties": {"amount": {"type": "null"}}},
        "else": {"required": ["amount"], "properties": {"amount": {"type": "integer"}}},
    }

    reason: Literal["duplicate", "fraudulent", "order_change", "product_unsatisfactory"]
    lines: Annotated[list[CreditNoteLineIn], msgspec.Meta(min_length=1, max_length=100)] | None = None
    amount: PositiveAmount | None = None
    refund_amount: Amount | None = None
    credit_amount: Amount | None = None
    memo: Text | None = None


# Dunning (routes/dunning.py): absent fields of a new account policy copy the default policy.
OverdueDays = Annotated[int, msgspec.Meta(ge=0, le=365)]
RetryDays = Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=60)]], msgspec.Meta(max_length=10)]


class CreateOverduePolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    account_id: uuid.UUID
    name: Name | msgspec.UnsetType = msgspec.UNSET
    retry_days: RetryDays | msgspec.UnsetType = msgspec.UNSET
    past_due_after_days: OverdueDays | msgspec.UnsetType = msgspec.UNSET
    unpaid_after_days: OverdueDays | msgspec.UnsetType | None = msgspec.UNSET
    cancel_after_days: OverdueDays | msgspec.UnsetType | None = msgspec.UNSET
    freeze_after_days: OverdueDays | msgspec.UnsetType | None = msgspec.UNSET


class UpdateOverduePolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    retry_days: RetryDays | msgspec.UnsetType = msgspec.UNSET
    past_due_after_days: OverdueDays | msgspec.UnsetType = msgspec.UNSET
    unpaid_after_days: OverdueDays | msgspec.UnsetType | None = msgspec.UNSET
    cancel_after_days: OverdueDays | msgspec.UnsetType | None = msgspec.UNSET
    freeze_after_days: OverdueDays | msgspec.UnsetType | None = msgspec.UNSET


# Unpriced usage (routes/unpriced_usage.py, operators)
class PriceUnpricedUsage(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    price_id: uuid.UUID


class WaiveUnpricedUsage(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


# Draft invoices (services/invoice_drafts.py, operators)
class AddInvoiceLine(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A one-off line on a draft: `quantity` x `unit_amount` (negative for a credit), or x the
    unit amount of a one-time per-unit `price_id` (give one of the two)."""

    description: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    quantity: Quantity = 1
    unit_amount: Annotated[int, msgspec.Meta(ge=-(10**12), le=10**12)] | None = None
    price_id: uuid.UUID | None = None


# tax rates (billing_0028_tax_rates; routes/tax_rates.py, operators)
class TaxPercentage(JSONDecimal, minimum="0", below="100", places=4):
    """0 <= percentage < 100, at most four decimals (a decimal string, or a JSON integer)."""


class CreateTaxRate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    percentage: TaxPercentage
    inclusive: bool
    country: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]  # ISO 3166-1 alpha-2
    state: Annotated[str, msgspec.Meta(pattern="^[A-Z0-9]{1,3}$")] | None = None  # ISO 3166-2, no country
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    active: bool = True


class SetTaxRateActive(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    active: bool


# Discounts on accounts and subscriptions (billing_0033_discounts_anytime)
class ApplyCoupon(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Operators: a coupon on the organization's account, or on one of its subscriptions."""

    coupon_id: uuid.UUID
    subscription_id: uuid.UUID | None = None


class RedeemPromotionCode(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A promotion code (case-insensitive) on the account, or on one of its subscriptions."""

    code: Annotated[str, msgspec.Meta(min_length=3, max_length=50)]
    subscription_id: uuid.UUID | None = None


# One-time purchases (billing_0029_purchases)
class PurchaseItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    price_id: uuid.UUID
    quantity: Quantity = 1


class CreatePurchase(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Buy active `one_time` prices in the account's currency. `pool_id` receives the products'
    entitlement sets (required when one has a set). `invoice_now` (default): an invoice
    finalized at once; false: pending charges the account's next invoice carries (Stripe's
    `add_invoice_items`)."""

    account_id: uuid.UUID
    pool_id: uuid.UUID | None = None
    items: Annotated[list[PurchaseItem], msgspec.Meta(min_length=1, max_length=20)]
    invoice_now: bool = True


# Plan changes and pauses (billing_0032_plan_changes)
class ItemChangeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`id` of an item to change (absent: a new item, which needs `price_id`); `price_id` to
    swap its price; `quantity`; `deleted: true` (alone) removes it."""

    id: uuid.UUID | None = None
    price_id: uuid.UUID | None = None
    quantity: Quantity | None = None
    deleted: bool = False


class UpdateSubscription(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Stripe's subscription update. `at: now` (default) prorates per `proration_behavior`
    (default `create_prorations`) at `proration_date` (default now; within the current period
    and the last hour); `at: period_end` schedules the change (nothing prorated)."""

    items: Annotated[list[ItemChangeIn], msgspec.Meta(min_length=1, max_length=20)]
    proration_behavior: Literal["create_prorations", "none", "always_invoice"] | None = None
    proration_date: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    at: Literal["now", "period_end"] = "now"


class PauseCollection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Stripe's `pause_collection`. `keep_as_draft` keeps the service and needs `resumes_at`
    (at most 90 days ahead): its invoices wait as drafts until then."""

    behavior: Literal["keep_as_draft", "mark_uncollectible", "void"]
    resumes_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


# Credit grants (billing_0027_credit_grants; routes/credit_grants.py, operators)
class CreateCreditGrant(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`currency` defaults to the account's (the only one its invoices use); `priority`: lower
    burns first; `applies_to_price_ids` empty: any line."""

    amount: PositiveAmount
    category: Literal["promotional", "paid"]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    currency: Currency | None = None
    priority: Annotated[int, msgspec.Meta(ge=0, le=100)] = 50
    effective_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    applies_to_price_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
