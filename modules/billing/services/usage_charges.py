"""On-demand usage: each `entitlements.usage.overage` (billable units past a soft limit, within
the pool's cap) becomes a usage pending charge on the organization's account, priced by the
on-demand config's `price_ref` (a price's lookup_key or id), linked to the usage events it
bills, and carried by the account's next invoice."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

import msgspec
from sqlalchemy import or_, select

from modules.billing.models import BillingAccount, PendingCharge, PendingChargeUsageEvent, Price
from modules.billing.services.money import to_minor
from modules.entitlements.contracts import UsageOverage
from platform_core.messaging.events import Event
from platform_core.messaging.uow import UnitOfWork

log = logging.getLogger(__name__)


async def _price(uow: UnitOfWork, ref: str | None) -> Price | None:
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
    price = await _price(uow, overage.price_ref)
    amount = usage_amount(price, overage.quantity, account.currency)
    what = f"{overage.quantity} x {overage.resource_key} beyond the included amount"
    if amount is None:
        log.error(
            "overage %s: price_ref %r cannot price it in %s",
            event.event_id,
            overage.price_ref,
            account.currency,
        )
        what = f"UNPRICED (price_ref {overage.price_ref!r}, needs an operator): {what}"
    charge = PendingCharge(
        org_id=account.org_id,
        account_id=account.id,
        kind="usage",
        description=what,
        amount=amount or 0,
        currency=account.currency,
        period_start=overage.period_start,
        period_end=overage.period_end,
    )
    uow.session.add(charge)
    await uow.session.flush()
    uow.session.add_all(
        PendingChargeUsageEvent(pending_charge_id=charge.id, usage_event_id=usage_id)
        for usage_id in set(overage.usage_event_ids)
    )
    await uow.session.flush()
