"""On-demand usage: each `entitlements.usage.overage` (billable units past a soft limit, within
the pool's cap) becomes a usage pending charge on the organization's account, priced by the
on-demand config's `price_ref` (a price's lookup_key or id), linked to the usage events it
bills, and carried by the account's next invoice. Overage the price cannot price waits for an
operator (services/unpriced_usage.py).

The `price_ref` is checked when an operator sets it (`entitlements.ondemand.configured`, in
the same transaction: entitlements, below billing, cannot look at the catalog itself)."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

import msgspec
from sqlalchemy import or_, select

from modules.billing.models import BillingAccount, Price
from modules.billing.services import unpriced_usage
from modules.billing.services.invoices import add_pending_charge
from modules.billing.services.money import to_minor
from modules.entitlements.contracts import UsageOverage
from platform_core.core.errors import Unprocessable
from platform_core.messaging.events import Event
from platform_core.messaging.uow import UnitOfWork

log = logging.getLogger(__name__)


async def resolve_price(uow: UnitOfWork, ref: str | None) -> Price | None:
    """The price a `price_ref` names: its lookup_key, or its id."""
    if not ref:
        return None
    try:
        as_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        as_id = None
    return await uow.session.scalar(
        select(Price).where(
            or_(Price.lookup_key == ref, Price.id == as_id) if as_id else Price.lookup_key == ref
        )
    )


def unpriceable(price: Price | None, ref: str | None, currency: str) -> str | None:
    """Why `price` cannot price usage billed in `currency` (None: it can)."""
    if price is None:
        return f"price {ref!r} (price_ref) does not exist" if ref else "no price_ref is configured"
    if price.billing_scheme != "per_unit":
        return f"price {price.id} is tiered; usage is priced per unit"
    if price.currency != currency:
        return f"price {price.id} is in {price.currency}, the account in {currency}"
    return None


def usage_amount(price: Price | None, quantity: Decimal, currency: str) -> int | None:
    """quantity x unit_amount to the minor unit (half-to-even); None when the price cannot
    price it (missing, tiered, or in another currency)."""
    if price is None or price.billing_scheme != "per_unit" or price.currency != currency:
        return None
    assert price.unit_amount is not None
    return to_minor(quantity * price.unit_amount)


async def on_usage_overage(uow: UnitOfWork, event: Event) -> None:
    overage = msgspec.convert(event.data, UsageOverage, strict=False)
    account = await uow.session.scalar(select(BillingAccount).where(BillingAccount.org_id == overage.org_id))
    if account is None:  # the usage and its billed total stay recorded in entitlements
        log.warning(
            "overage of %s in organization %s: no billing account to charge", overage.quantity, overage.org_id
        )
        return
    price = await resolve_price(uow, overage.price_ref)
    amount = usage_amount(price, overage.quantity, account.currency)
    if amount is None:  # never billed at 0: an operator prices or waives it
        reason = unpriceable(price, overage.price_ref, account.currency) or "the price cannot price it"
        log.warning("overage %s kept for an operator: %s", event.event_id, reason)
        await unpriced_usage.hold(uow, account, overage, reason)
        return
    await add_pending_charge(
        uow,
        account,
        kind="usage",
        description=f"{overage.quantity} x {overage.resource_key} beyond the included amount",
        amount=amount,
        period=(overage.period_start, overage.period_end),
        usage_event_ids=overage.usage_event_ids,
    )
    await uow.session.flush()


async def on_ondemand_configured(uow: UnitOfWork, event: Event) -> None:
    """Refuse (422, rolling the change back) a `price_ref` that names no per-unit price, or one
    in another currency than the organization's billing account."""
    ref = event.data.get("price_ref")
    if not ref:
        return
    price = await resolve_price(uow, ref)
    account = await uow.session.scalar(select(BillingAccount).where(BillingAccount.org_id == event.org_id))
    reason = unpriceable(price, ref, account.currency if account else price.currency if price else "")
    if reason is not None:
        raise Unprocessable(
            f"price_ref: {reason}",
            code="invalid_price_ref",
            errors=[{"field": "price_ref", "message": reason}],
        )
