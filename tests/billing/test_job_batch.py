"""The renewal and finalize jobs read their batch's rows once (services/job_batch.py); what one
row of a batch changes, the next row of the same batch sees: a `once` discount used by one
subscription's renewal is not used again by the next subscription of the same account, a
credit carried forward by one invoice pays the next invoice of the account, and the numbers
taken for the batch are given out gaplessly in finalizing order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from modules.billing.models import BillingAccount
from modules.billing.services.invoice_finalize import issue_invoice
from modules.billing.services.invoice_lines import Line
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_credit_invoices import balance, grant
from tests.billing.test_discounts import apply, coupon_for, discounts, invoices
from tests.billing.test_reconcile import violations_of
from tests.entitlements.conftest import Clock

MAY = datetime(2031, 5, 1, 12, tzinfo=UTC)


async def run(runtime: Runtime, job: str) -> None:
    outcome = await runtime.scheduler.run_now(job)
    assert outcome is not None
    assert outcome.succeeded, outcome


async def test_a_once_discount_reduces_one_renewal_of_a_batch(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(MAY)
    price = await shop.price(unit_amount=1000)
    first = await shop.subscribe((price["id"], 1))
    second = await shop.subscribe((price["id"], 2), pool_id=await shop.world.pool(shop.org))
    discount = await apply(shop, await coupon_for(shop, amount_off=300, currency="EUR", duration="once"))
    clock.set(MAY + timedelta(days=31))
    await run(runtime, "billing.renew_subscriptions")  # both subscriptions in one batch
    renewals = [i for i in await invoices(shop) if i["status"] == "draft"]
    assert sorted((i["subscription_id"], i["subtotal"]) for i in renewals) == sorted(
        [(first["id"], 1000), (second["id"], 2000)]
    )
    assert sorted(i["discount_total"] for i in renewals) == [0, 300]
    [used] = await discounts(shop)
    assert (used["id"], used["status"], used["end_reason"]) == (discount["id"], "ended", "used")
    assert await violations_of(runtime, shop.org) == []


async def test_credit_carried_forward_in_a_finalize_batch_pays_the_next_draft(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(MAY)
    await grant(shop, amount=400)
    async with runtime.uow() as uow:  # three drafts of one account, finalized by one job batch
        account = await uow.session.get_one(BillingAccount, uuid.UUID(shop.account))
        drafts = [
            await issue_invoice(
                uow, account, [Line(source="one_off", description=name, amount=amount)], finalize_now=False
            )
            for name, amount in (("Work", 300), ("Goodwill", -1500), ("Setup", 1000))
        ]
    clock.set(MAY + timedelta(seconds=runtime.settings.invoice_finalize_delay_seconds + 1))
    await run(runtime, "billing.finalize_invoices")
    by_id = {i["id"]: i for i in await invoices(shop)}
    work, goodwill, setup = (by_id[str(d.id)] for d in drafts)
    assert (work["credit_applied"], work["amount_due"], work["status"]) == (300, 0, "paid")
    assert (goodwill["total"], goodwill["status"]) == (0, "paid")
    assert (setup["credit_applied"], setup["amount_due"], setup["status"]) == (1000, 0, "paid")
    assert (await balance(shop))["balances"][0]["balance"] == 400 + 1500 - 300 - 1000
    numbers = [int(i["number"][-6:]) for i in (work, goodwill, setup)]
    assert numbers == list(range(numbers[0], numbers[0] + 3))  # gapless, in finalizing order
    assert await violations_of(runtime, shop.org) == []
