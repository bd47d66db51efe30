"""Metered prices billed in arrears: at the end of each period (a renewal, a trial's end, the
period end of a subscription that ends then, or a cancellation now) each metered item's usage
is claimed from entitlements (`entitlements.api.claim_usage`: the pool's accepted usage of the
price's resource key not yet billed), priced with the price's scheme
(services/metered_pricing.py: per unit, graduated or volume tiers; half-to-even once) and left
as a pending charge of kind `metered_usage` for the invoice written next, which shows it as a
`metered_usage` line naming the price.

The charge's id is the claim id entitlements marks the events with, and
`pending_charge_usage_events` links the charge to each event it bills: that table is the one
record of what billed an event, and its unique `usage_event_id` makes billing an event twice
impossible. A claim that found no usage writes nothing.

Which events a period's charge bills: every unclaimed one that occurred since the subscription
started and before the period's end — so an event that arrives after its period was invoiced
("late") is billed by the next invoice, in the period it arrived in. Usage during a trial is
billed at the trial's end, on the first paid invoice (as Stripe does)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from modules.billing.contracts import Violation
from modules.billing.models import (
    BillingAccount,
    PendingCharge,
    Price,
    Subscription,
    SubscriptionChange,
    SubscriptionItem,
)
from modules.billing.services.accounts import account_row
from modules.billing.services.catalog import price_row, product_row, tiers_of
from modules.billing.services.invoice_finalize import issue_invoice
from modules.billing.services.invoice_lines import Line
from modules.billing.services.metered_pricing import usage_amount
from modules.entitlements import api as ent_api
from modules.entitlements.contracts import ClaimedUsage
from platform_core.core.ids import uuid7
from platform_core.messaging.uow import UnitOfWork

log = logging.getLogger(__name__)

# One statement however many events a charge bills (a period can hold millions). An event
# already linked elsewhere (an on-demand overage charge on the same key: a configuration that
# bills it both ways) keeps its link; the renewal goes on and reconcile names the charge.
_LINK_EVENTS = text(
    """INSERT INTO billing.pending_charge_usage_events (pending_charge_id, usage_event_id)
       SELECT :charge, unnest(CAST(:events AS uuid[]))
           ON CONFLICT (usage_event_id) DO NOTHING"""
)


def price_usage(price: Price, quantity: Decimal) -> int:
    """What `price` charges for `quantity` units of usage (minor units, half-to-even)."""
    return usage_amount(
        quantity, unit_amount=price.unit_amount, tiers=tiers_of(price), tiers_mode=price.tiers_mode
    )


def _quantity_text(quantity: Decimal) -> str:
    """1500 for 1500.000, 2.5 for 2.50: the figure as a person writes it."""
    return f"{quantity.normalize():f}" if quantity == quantity.to_integral_value() else f"{quantity:f}"


async def _started_at(uow: UnitOfWork, sub: Subscription) -> datetime | None:
    """When the subscription began (its first recorded change): no usage before it is its own."""
    return await uow.session.scalar(
        select(func.min(SubscriptionChange.effective_at)).where(SubscriptionChange.subscription_id == sub.id)
    )


async def _metered(
    uow: UnitOfWork, items: list[SubscriptionItem]
) -> list[tuple[SubscriptionItem, Price, str]]:
    """The metered items, each with its price and its product's name."""
    out = []
    for item in items:
        price = await price_row(uow, item.price_id)
        if price.usage_type == "metered" and price.metered_resource_key is not None:
            out.append((item, price, (await product_row(uow, price.product_id)).name))
    return out


def _description(usage: ClaimedUsage, product_name: str) -> str:
    return f"{_quantity_text(usage.quantity)} x {product_name} ({usage.resource_key}, {usage.aggregation})"


async def bill_usage(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], *, until: datetime
) -> list[PendingCharge]:
    """Claim and price each metered item's unbilled usage that occurred before `until`; one
    `metered_usage` pending charge per item that had any, for the account's next invoice.
    Call it before the period moves (`sub.current_period_start` is the period billed)."""
    metered = await _metered(uow, items)
    if not metered:
        return []
    account = await account_row(uow, sub.org_id, sub.account_id)
    since = await _started_at(uow, sub)
    charges = []
    for item, price, product_name in metered:
        assert price.metered_resource_key is not None
        claim_id = uuid7()
        usage = await ent_api.claim_usage(
            uow,
            org_id=sub.org_id,
            pool_id=sub.pool_id,
            resource_key=price.metered_resource_key,
            until=until,
            since=since,
            claim_id=claim_id,
        )
        if usage.event_count:
            charges.append(
                await _charge(uow, account, sub, item, price, usage, product_name, claim_id, until)
            )
    return charges


async def _charge(
    uow: UnitOfWork,
    account: BillingAccount,
    sub: Subscription,
    item: SubscriptionItem,
    price: Price,
    usage: ClaimedUsage,
    product_name: str,
    claim_id: uuid.UUID,
    until: datetime,
) -> PendingCharge:
    charge = PendingCharge(
        id=claim_id,
        org_id=account.org_id,
        account_id=account.id,
        subscription_id=sub.id,
        subscription_item_id=item.id,
        kind="metered_usage",
        description=_description(usage, product_name),
        amount=price_usage(price, usage.quantity),
        currency=account.currency,
        period_start=min(sub.current_period_start, until),
        period_end=until,
        price_id=price.id,
    )
    uow.session.add(charge)
    await uow.session.flush()
    linked = await uow.session.execute(_LINK_EVENTS, {"charge": charge.id, "events": usage.usage_event_ids})
    if linked.rowcount != usage.event_count:  # type: ignore[attr-defined]
        log.warning(
            "metered charge %s: %d of its %d usage events were already billed by another charge",
            charge.id, usage.event_count - linked.rowcount, usage.event_count,  # type: ignore[attr-defined]
        )  # fmt: skip
    return charge


async def bill_final_usage(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], *, until: datetime
) -> None:
    """A subscription that ends: its unbilled usage up to `until` goes on a final invoice now
    (with the account's other pending charges); nothing is invoiced when there was none."""
    if await bill_usage(uow, sub, items, until=until):
        account = await account_row(uow, sub.org_id, sub.account_id)
        await issue_invoice(
            uow, account, [], subscription_id=sub.id, period=(sub.current_period_start, until)
        )


async def preview_usage_lines(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], *, until: datetime
) -> list[Line]:
    """The `metered_usage` lines the invoice at `until` would carry for usage recorded so far,
    without writing anything (the upcoming-invoice preview)."""
    since = await _started_at(uow, sub)
    lines = []
    for item, price, product_name in await _metered(uow, items):
        assert price.metered_resource_key is not None
        usage = await ent_api.usage_to_bill(
            uow,
            org_id=sub.org_id,
            pool_id=sub.pool_id,
            resource_key=price.metered_resource_key,
            until=until,
            since=since,
        )
        if usage.event_count:
            lines.append(
                Line(
                    source="metered_usage",
                    source_id=item.id,
                    description=_description(usage, product_name),
                    amount=price_usage(price, usage.quantity),
                    unit_amount=price.unit_amount,
                    period_start=min(sub.current_period_start, until),
                    period_end=until,
                    price_id=price.id,
                )
            )
    return lines


_LINKED_TWICE = text(
    """SELECT usage_event_id, count(*) AS charges, min(c.org_id::text) AS org_id
         FROM billing.pending_charge_usage_events l
         JOIN billing.pending_charges c ON c.id = l.pending_charge_id
        GROUP BY usage_event_id HAVING count(*) > 1"""
)
_METERED_LINKS = text(
    """SELECT c.id, c.org_id, count(l.usage_event_id) AS linked
         FROM billing.pending_charges c
         LEFT JOIN billing.pending_charge_usage_events l ON l.pending_charge_id = c.id
        WHERE c.kind = 'metered_usage' GROUP BY c.id, c.org_id"""
)


async def check_usage_billed_once(session: AsyncSession) -> list[Violation]:
    """`usage_billed_once`: no usage event is linked to two charges (the unique index makes it
    structural; checked anyway). `metered_usage_linked`: each metered-usage charge links exactly
    the events its claim took in entitlements (none dropped, none made up)."""
    found = [
        Violation(
            invariant="usage_billed_once",
            subject_type="usage_event",
            subject_id=str(r.usage_event_id),
            org_id=uuid.UUID(r.org_id),
            detail=f"usage event {r.usage_event_id} is billed by {r.charges} charges",
        )
        for r in await session.execute(_LINKED_TWICE)
    ]
    charges = (await session.execute(_METERED_LINKS)).all()
    claimed = await ent_api.claimed_counts(session, [c.id for c in charges])
    found += [
        Violation(
            invariant="metered_usage_linked",
            subject_type="pending_charge",
            subject_id=str(c.id),
            org_id=c.org_id,
            detail=f"charge {c.id} links {c.linked} usage events; its claim took {claimed.get(c.id, 0)}",
        )
        for c in charges
        if c.linked != claimed.get(c.id, 0)
    ]
    return found
