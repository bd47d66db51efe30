"""The invoice of a subscription's period: its licensed items in advance, discounted, with the
account's pending charges."""

from __future__ import annotations

from modules.billing.models import Price, Subscription, SubscriptionItem
from modules.billing.services.accounts import account_row
from modules.billing.services.catalog import price_row, product_row, tiers_of
from modules.billing.services.invoice_finalize import issue_invoice
from modules.billing.services.invoice_lines import Line
from modules.billing.services.money import amount_for
from platform_core.messaging.uow import UnitOfWork


def item_amount(price: Price, quantity: int) -> int:
    return amount_for(
        quantity, unit_amount=price.unit_amount, tiers=tiers_of(price), tiers_mode=price.tiers_mode
    )


async def invoice_period(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], *, finalize_now: bool = True
) -> None:
    """The invoice of the current period: its licensed items, in advance (metered usage will
    be billed in arrears once usage billing exists), plus the account's pending charges;
    finalized now, or a draft the finalize job finalizes after the configured delay."""
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
                period_start=sub.current_period_start,
                period_end=sub.current_period_end,
                price_id=price.id,
            )
        )
    account = await account_row(uow, sub.org_id, sub.account_id)
    await issue_invoice(
        uow,
        account,
        lines,
        subscription_id=sub.id,
        period=(sub.current_period_start, sub.current_period_end),
        finalize_now=finalize_now,
    )
