"""The upcoming invoice (Stripe's `invoices/upcoming`), computed without writing anything: no
lock, no row, no number, no event. It is what the renewal at the period's end would draft:
the next period's licensed items (after the change scheduled for then, if any), discounted as
the renewal discounts them, plus the account's open pending charges and the ending period's
metered usage recorded so far (the renewal bills it in arrears); then tax and credit as
finalizing would apply them now.

A proposed change (`items`, `proration_behavior`, `proration_date`, as for
`POST …/subscriptions/{id}/update` now) is checked exactly as the change would be; its next
period bills the changed items, and with `create_prorations` its proration lines join the
pending charges (with `always_invoice` they would be invoiced at once: listed in `proration`
only). `proration_date` may be any moment of the current period here; the change itself takes
it at most an hour back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from modules.billing.contracts import ProrationLine, UpcomingInvoiceDTO, UpcomingLineDTO
from modules.billing.models import BillingAccount, PendingCharge, Subscription
from modules.billing.schemas import ItemChangeIn
from modules.billing.services import credit_grants, taxes
from modules.billing.services.accounts import account_row
from modules.billing.services.catalog import price_row, product_row
from modules.billing.services.discounts import discount_lines
from modules.billing.services.invoice_lines import Line
from modules.billing.services.metered_usage import preview_usage_lines
from modules.billing.services.periods import period_at, shift
from modules.billing.services.plan_changes import (
    NEW_ITEM,
    Move,
    check_changeable,
    check_proration_date,
    plan_moves,
    prorations_of,
    sides_of,
)
from modules.billing.services.scheduled_changes import pending_change, preview_moves
from modules.billing.services.subscription_invoices import item_amount
from modules.billing.services.subscriptions import items_of
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, InvalidRequest, NotFound
from platform_core.messaging.uow import UnitOfWork


class BilledItem(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def price_id(self) -> uuid.UUID: ...
    @property
    def quantity(self) -> int: ...


async def period_lines(
    uow: UnitOfWork, sub: Subscription, items: Sequence[BilledItem], start: datetime, end: datetime
) -> list[Line]:
    """A period's licensed items, billed in advance: one line per item, undiscounted."""
    lines = []
    for item in items:
        price = await price_row(uow, item.price_id)
        if price.usage_type != "licensed":
            continue
        product = await product_row(uow, price.product_id)
        lines.append(
            Line(
                source="subscription_item",
                source_id=item.id,
                description=f"{item.quantity} x {product.name}",
                quantity=item.quantity,
                unit_amount=price.unit_amount,
                amount=item_amount(price, item.quantity),
                period_start=start,
                period_end=end,
                price_id=price.id,
            )
        )
    return lines


def parse_items(values: Sequence[str]) -> list[ItemChangeIn]:
    """`<item_id>:<price_id>:<quantity>` (either may be empty: unchanged), `new:<price_id>:<quantity>`
    (quantity empty: 1), or `<item_id>:deleted`."""
    changes = []
    for value in values:
        parts = value.split(":")
        try:
            if len(parts) == 2 and parts[1] == "deleted":
                changes.append(ItemChangeIn(id=uuid.UUID(parts[0]), deleted=True))
                continue
            if len(parts) != 3:
                raise ValueError("three parts")
            item, price, quantity = parts
            number = int(quantity) if quantity else None
            if number is not None and not 1 <= number <= 1_000_000:
                raise ValueError("quantity out of range")
            changes.append(
                ItemChangeIn(
                    id=None if item == "new" else uuid.UUID(item),
                    price_id=uuid.UUID(price) if price else None,
                    quantity=number,
                )
            )
        except ValueError as exc:
            raise InvalidRequest(
                f"items={value!r} is not <item_id|new>:<price_id>:<quantity> or <item_id>:deleted",
                code="invalid_items",
                errors=[{"field": "items", "source": "query", "message": str(exc)}],
            ) from exc
    return changes


class _Virtual:
    """An item as it would be (no row is written)."""

    def __init__(self, id: uuid.UUID, price_id: uuid.UUID, quantity: int) -> None:
        self.id, self.price_id, self.quantity = id, price_id, quantity


def _after(items: Sequence[BilledItem], moves: Sequence[Move]) -> list[_Virtual]:
    changed = {m.item.id: m for m in moves if m.item is not None}
    out = []
    for item in items:
        move = changed.get(item.id)
        if move is None:
            out.append(_Virtual(item.id, item.price_id, item.quantity))
        elif move.new_price is not None:
            out.append(_Virtual(item.id, move.new_price.id, move.quantity))
    for move in moves:
        if move.item is None and move.new_price is not None:
            out.append(_Virtual(NEW_ITEM, move.new_price.id, move.quantity))
    return out


def _next_period(sub: Subscription) -> tuple[datetime, datetime]:
    if sub.status == "trialing" and sub.trial_end is not None:
        return sub.trial_end, shift(sub.trial_end, sub.interval, sub.interval_count)
    return period_at(sub.billing_cycle_anchor, sub.interval, sub.interval_count, sub.current_period_end)


async def upcoming_invoice(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    subscription_id: uuid.UUID,
    *,
    changes: list[ItemChangeIn],
    proration_behavior: str,
    proration_date: datetime | None,
) -> UpcomingInvoiceDTO:
    sub = await uow.session.scalar(
        select(Subscription).where(Subscription.id == subscription_id, Subscription.org_id == org_id)
    )
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist", code="subscription_not_found")
    if sub.cancel_at_period_end:
        raise Conflict(
            "the subscription ends at the period's end: no invoice comes", code="no_upcoming_invoice"
        )
    if changes:
        await check_changeable(uow, sub)
    if sub.status not in ("active", "trialing", "past_due", "unpaid"):
        raise Conflict(f"the subscription is {sub.status}: no invoice comes", code="no_upcoming_invoice")
    account = await account_row(uow, org_id, sub.account_id)
    current = await items_of(uow, sub)
    items: Sequence[BilledItem] = current
    proration: list[ProrationLine] = []
    at = None
    if changes:
        moves = await plan_moves(uow, sub, current, changes, at_period_end=False)
        at = proration_date or utcnow()
        check_proration_date(sub, at, utcnow(), preview=True)
        if sub.status == "active" and proration_behavior != "none":
            ids = [m.item.id if m.item is not None else NEW_ITEM for m in moves]
            proration = prorations_of(sub, [sides_of(m) for m in moves], ids, at)
        items = _after(items, moves)
    else:
        scheduled = await pending_change(uow, sub.id, lock=False)
        if scheduled is not None:
            items = _after(items, await preview_moves(uow, sub, current, scheduled))
    start, end = _next_period(sub)
    lines = await period_lines(uow, sub, items, start, end)
    lines = await discount_lines(uow, account, sub.id, lines, preview=True)
    pending = await uow.session.scalars(
        select(PendingCharge)
        .where(
            PendingCharge.account_id == account.id,
            PendingCharge.invoice_id.is_(None),
            PendingCharge.currency == account.currency,
        )
        .order_by(PendingCharge.created_at, PendingCharge.id)
    )
    lines += [
        Line(
            source="pending_charge",
            source_id=p.id,
            description=p.description,
            amount=p.amount,
            period_start=p.period_start,
            period_end=p.period_end,
            price_id=p.price_id,
        )
        for p in pending
    ]
    if proration_behavior == "create_prorations":
        lines += [
            Line(
                source="pending_charge",
                description=p.description,
                amount=p.amount,
                period_start=p.period_start,
                period_end=p.period_end,
            )
            for p in proration
        ]
    # the renewal bills the ending period's metered usage (recorded so far) before it invoices
    lines += await preview_usage_lines(uow, sub, current, until=sub.current_period_end)
    return await _totals(uow, account, sub, lines, (start, end), proration, at)


async def _totals(
    uow: UnitOfWork,
    account: BillingAccount,
    sub: Subscription,
    lines: list[Line],
    period: tuple[datetime, datetime],
    proration: list[ProrationLine],
    proration_date: datetime | None,
) -> UpcomingInvoiceDTO:
    """Finalizing's figures, in its order: subtotal and discounts, tax, a negative total
    carried forward as credit, then credit grants."""
    tax = await taxes.preview_tax(uow, account, lines)
    subtotal = sum(line.amount for line in lines)
    discount_total = sum(line.discount_amount for line in lines)
    total = tax.total(subtotal, discount_total)
    if total < 0:
        lines = [*lines, Line(source="pending_charge", description="Credit carried forward", amount=-total)]
        subtotal, total = subtotal - total, 0
    credit = await credit_grants.available_for(uow, account, lines, total=total)
    return UpcomingInvoiceDTO(
        account_id=account.id,
        subscription_id=sub.id,
        currency=account.currency,
        period_start=period[0],
        period_end=period[1],
        lines=[
            UpcomingLineDTO(
                source=line.source,
                description=line.description,
                amount=line.amount,
                discount_amount=line.discount_amount,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                period_start=line.period_start,
                period_end=line.period_end,
                price_id=line.price_id,
            )
            for line in lines
        ],
        proration=proration,
        proration_date=proration_date,
        subtotal=subtotal,
        discount_total=discount_total,
        tax=tax.tax,
        total=total,
        credit_applied=credit,
        amount_due=total - credit,
    )
