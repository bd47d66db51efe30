"""Credit at finalization: grants burn in burn order into `credit_applied` (only on the lines of
the prices they name), an invoice paid in full by credit is `paid`, a voided invoice gives its
credit back, a negative invoice's surplus is carried forward as a grant, two invoices finalizing
at once never spend the same credit twice, and after any sequence of grants, invoices, voids
and expiries the ledger holds (hypothesis, checked by `keel billing reconcile`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from modules.billing.models import BillingAccount
from modules.billing.services import invoices as invoice_service
from modules.billing.services.credit_grants import available_for
from modules.billing.services.credit_lifecycle import expire_due
from modules.billing.services.invoice_finalize import issue_invoice
from modules.billing.services.invoice_lines import Line
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_reconcile import violations_of
from tests.billing.test_subscriptions import renew
from tests.entitlements.conftest import Clock, ok

NOW = datetime(2031, 9, 1, 9, tzinfo=UTC)


async def grant(shop: Shop, account: str | None = None, **body: Any) -> dict[str, Any]:
    fields = {"amount": 1000, "category": "promotional", "description": "Offer", **body}
    url = f"/billing/orgs/{shop.org}/accounts/{account or shop.account}/credit-grants"
    result: dict[str, Any] = await ok(await shop.client.post(url, json=fields, headers=shop.headers), 201)
    return result


async def invoices(shop: Shop) -> list[dict[str, Any]]:
    page = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices?limit=500", headers=shop.headers)
    )
    result: list[dict[str, Any]] = page["items"]
    return result


async def history(shop: Shop, grant_id: str) -> list[tuple[str, int, str | None]]:
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-grants/{grant_id}/transactions"
    page = await ok(await shop.client.get(url, headers=shop.headers))
    return [(t["kind"], t["amount"], t["invoice_id"]) for t in page["items"]]


async def balance(shop: Shop) -> dict[str, Any]:
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-balance"
    result: dict[str, Any] = await ok(await shop.client.get(url, headers=shop.headers))
    return result


async def test_finalizing_burns_credit_in_burn_order_on_the_lines_it_may_pay(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(NOW)
    seats, support = await shop.price(unit_amount=1000), await shop.price(unit_amount=700)
    only_support = await grant(shop, amount=900, priority=0, applies_to_price_ids=[support["id"]])
    soon = await grant(shop, amount=1200, expires_at=(NOW + timedelta(days=10)).isoformat())
    never = await grant(shop, amount=300)
    later = await grant(shop, amount=5000, effective_at=(NOW + timedelta(days=20)).isoformat())
    await shop.subscribe((seats["id"], 2), (support["id"], 1))
    (first,) = await invoices(shop)
    # 2700: the support line 700 (not 900), then 1200 expiring soon, then 300; the later grant waits
    assert (first["status"], first["total"], first["credit_applied"], first["amount_due"]) == (
        "open",
        2700,
        2200,
        500,
    )
    assert await history(shop, only_support["id"]) == [("grant", 900, None), ("applied", -700, first["id"])]
    assert await history(shop, soon["id"]) == [("grant", 1200, None), ("applied", -1200, first["id"])]
    assert await history(shop, never["id"]) == [("grant", 300, None), ("applied", -300, first["id"])]
    assert await history(shop, later["id"]) == [("grant", 5000, None)]
    assert (await balance(shop))["balances"] == [{"currency": "EUR", "balance": 5200, "available": 200}]

    # the next period: the later grant is effective and pays the rest in full: `paid` at once
    clock.set(NOW + timedelta(days=30, minutes=1))
    await renew(runtime)
    second = next(i for i in await invoices(shop) if i["id"] != first["id"])
    assert (second["status"], second["credit_applied"], second["amount_due"]) == ("paid", 2700, 0)
    assert await history(shop, only_support["id"]) == [
        ("grant", 900, None), ("applied", -700, first["id"]), ("applied", -200, second["id"]),
    ]  # fmt: skip
    assert await history(shop, later["id"]) == [("grant", 5000, None), ("applied", -2500, second["id"])]
    assert await violations_of(runtime, shop.org) == []


async def test_a_voided_invoice_gives_its_credit_back(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(NOW)
    price = await shop.price(unit_amount=1000)
    credit = await grant(shop, amount=400)
    async with runtime.uow() as uow:  # the preview: what finalizing would apply, nothing written
        account = await uow.session.get_one(BillingAccount, uuid.UUID(shop.account))
        work = [Line(source="one_off", description="Work", amount=1000)]
        assert await available_for(uow, account, work) == 400
        assert await available_for(uow, account, work, total=250) == 250
        assert await available_for(uow, account, work, at=NOW - timedelta(days=1)) == 0  # not yet effective
    assert await history(shop, credit["id"]) == [("grant", 400, None)]
    await shop.subscribe((price["id"], 1))
    (invoice,) = await invoices(shop)
    assert (invoice["credit_applied"], invoice["amount_due"]) == (400, 600)
    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/void", headers=shop.headers))
    assert await history(shop, credit["id"]) == [
        ("grant", 400, None), ("applied", -400, invoice["id"]), ("restored", 400, invoice["id"]),
    ]  # fmt: skip
    assert (await balance(shop))["balances"] == [{"currency": "EUR", "balance": 400, "available": 400}]
    assert await violations_of(runtime, shop.org) == []


async def test_a_negative_invoice_carries_its_surplus_forward_as_a_grant(
    shop: Shop, runtime: Runtime
) -> None:
    async with runtime.uow() as uow:
        account = await uow.session.get_one(BillingAccount, uuid.UUID(shop.account))
        invoice = await issue_invoice(
            uow, account, [Line(source="one_off", description="Goodwill", amount=-1500)], finalize_now=True
        )
    assert (invoice.status, invoice.total, invoice.credit_applied) == ("paid", 0, 0)
    (carried,) = (await balance(shop))["grants"]
    assert (carried["source_type"], carried["source_id"], carried["remaining"]) == (
        "carried_credit", str(invoice.id), 1500,
    )  # fmt: skip
    async with runtime.uow() as uow:  # the same invoice again carries nothing more
        account = await uow.session.get_one(BillingAccount, uuid.UUID(shop.account))
        nxt = await issue_invoice(uow, account, [Line(source="one_off", description="Setup", amount=1000)])
    assert (nxt.credit_applied, nxt.amount_due, nxt.status) == (1000, 0, "paid")
    assert (await balance(shop))["balances"][0]["balance"] == 500


async def test_two_invoices_finalizing_at_once_never_spend_the_same_credit(
    shop: Shop, runtime: Runtime
) -> None:
    credit = await grant(shop, amount=1000)

    async def finalize_one() -> int:
        async with runtime.uow() as uow:
            account = await uow.session.get_one(BillingAccount, uuid.UUID(shop.account))
            invoice = await issue_invoice(
                uow, account, [Line(source="one_off", description="Work", amount=300)]
            )
        return invoice.credit_applied

    applied = await asyncio.gather(*(finalize_one() for _ in range(8)))
    assert sum(applied) == 1000
    assert sorted(applied) == [0, 0, 0, 0, 100, 300, 300, 300]
    spent = [t for t in await history(shop, credit["id"]) if t[0] == "applied"]
    assert sum(amount for _, amount, _ in spent) == -1000
    assert await violations_of(runtime, shop.org) == []


GRANT = st.tuples(
    st.just("grant"),
    st.integers(1, 3000),
    st.integers(0, 100),
    st.one_of(st.none(), st.integers(1, 40)),
    st.booleans(),
)
OPERATIONS = st.one_of(
    GRANT,
    GRANT,
    st.tuples(st.just("invoice"), st.integers(0, 4000), st.booleans()),
    st.tuples(st.just("invoice"), st.integers(0, 4000), st.booleans()),
    st.tuples(st.just("void_invoice"), st.integers(0, 9)),
    st.tuples(st.just("void_invoice"), st.integers(0, 9)),
    st.tuples(st.just("void_grant"), st.integers(0, 9)),
    st.tuples(st.just("clock"), st.integers(1, 20)),
)


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(OPERATIONS, min_size=4, max_size=12))
async def test_after_any_sequence_the_ledger_holds(
    shop: Shop, clock: Clock, runtime: Runtime, operations: list[tuple[Any, ...]]
) -> None:
    """Each sequence in a fresh organization: a grant's balance is the sum of its ledger and
    never below 0, an invoice's credit never above its total, and the reconcile finds nothing."""
    clock.set(NOW)
    price = await shop.price(unit_amount=1)
    org = await shop.world.org()
    r = await shop.client.post(
        f"/billing/orgs/{org}/accounts",
        json={"name": "Prop", "email": "prop@example.test", "currency": "EUR"},
        headers=shop.headers,
    )
    account = (await ok(r, 201))["id"]
    run = Shop(shop.client, shop.headers, shop.world, org, "", "", account, shop.product, shop.key)
    grant_ids: list[str] = []
    invoice_ids: list[uuid.UUID] = []
    start = [("grant", 1500, 50, None, False), ("grant", 800, 20, 10, True), ("invoice", 1000, True)]
    for op in [*start, *operations]:
        if op[0] == "grant":
            _, amount, priority, expires_in, restricted = op
            body: dict[str, Any] = {"amount": amount, "priority": priority}
            if expires_in:
                body["expires_at"] = (clock() + timedelta(days=expires_in)).isoformat()
            if restricted:
                body["applies_to_price_ids"] = [price["id"]]
            grant_ids.append((await grant(run, account, **body))["id"])
        elif op[0] == "invoice":
            async with runtime.uow() as uow:
                row = await uow.session.get_one(BillingAccount, uuid.UUID(account))
                line = Line(
                    source="one_off",
                    description="Work",
                    amount=op[1],
                    price_id=uuid.UUID(price["id"]) if op[2] else None,
                )
                invoice = await issue_invoice(uow, row, [line])
            assert 0 <= invoice.credit_applied <= max(invoice.total, 0)
            assert invoice.amount_due == invoice.total - invoice.credit_applied
            invoice_ids.append(invoice.id)
        elif op[0] == "void_invoice" and invoice_ids:
            async with runtime.uow() as uow:
                target = invoice_ids[op[1] % len(invoice_ids)]
                if (await invoice_service.get_invoice(uow, uuid.UUID(org), target)).status == "open":
                    await invoice_service.void(uow, target)
        elif op[0] == "void_grant" and grant_ids:
            target_grant = grant_ids[op[1] % len(grant_ids)]
            url = f"/billing/orgs/{org}/accounts/{account}/credit-grants/{target_grant}/void"
            await ok(await shop.client.post(url, headers=shop.headers))
        elif op[0] == "clock":
            clock.set(clock() + timedelta(days=op[1]))
            async with runtime.uow() as uow:
                while await expire_due(uow):
                    pass
    async with runtime.engine.connect() as conn:
        ledger = {
            str(r.grant_id): int(r.balance)
            for r in await conn.execute(
                text(
                    "SELECT grant_id, sum(t.amount) AS balance FROM billing.credit_transactions t"
                    " JOIN billing.credit_grants g ON g.id = t.grant_id"
                    " WHERE g.account_id = :a GROUP BY grant_id"
                ),
                {"a": account},
            )
        }
    page = await ok(
        await shop.client.get(
            f"/billing/orgs/{org}/accounts/{account}/credit-grants?limit=500", headers=shop.headers
        )
    )
    assert {g["id"]: g["remaining"] for g in page["items"]} == ledger
    assert all(0 <= g["remaining"] <= g["amount"] for g in page["items"])
    assert await violations_of(runtime, org) == []
