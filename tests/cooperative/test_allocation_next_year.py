"""After a fiscal year's allocation is approved, what a member gets back (a refund, a credit
note) counts in the next fiscal year that is not approved: the approved rows never change, and
patronage still reconciles with billing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from modules.billing.services import invoices
from modules.cooperative import api as cooperative_api
from platform_core.runtime.runtime import Runtime
from tests.billing.money_back import stripe_event
from tests.cooperative.members import YEAR, Cooperative
from tests.entitlements.conftest import ok
from tests.organization.helpers import assert_problem


async def test_a_refund_after_approval_counts_in_the_next_year_and_the_rows_stay(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    coop = Cooperative(client, admin_headers, runtime, "PLN")
    a = await coop.member(1000, via_stripe=True)
    b = await coop.member(500)
    draft = await ok(await coop.compute(300), 201)
    approved = await ok(await coop.approve(draft["id"]))
    rows = await coop.rows(draft["id"])
    assert [(r["patronage"], r["amount"]) for r in rows] == [(1000, 200), (500, 100)]

    # a: 400 of its (this year's) payment refunded, after the approval
    payments: Any = (await ok(await client.get(f"/billing/orgs/{a.org}/payments", headers=admin_headers)))[
        "items"
    ]
    (payment,) = payments["items"] if isinstance(payments, dict) else payments
    url = f"/billing/orgs/{a.org}/payments/{payment['id']}/refunds"
    body = {"reason": "requested_by_customer", "amount": 400}
    refund = await ok(await client.post(url, json=body, headers=admin_headers), 201)
    succeeded = {
        "id": f"re_{uuid.uuid4().hex}", "amount": 400, "currency": "pln", "status": "succeeded",
        "payment_intent": payment["provider_payment_id"], "metadata": {"keel_refund_id": refund["id"]},
    }  # fmt: skip
    await coop.deliver(stripe_event("refund.updated", succeeded))
    assert await coop.patronage(a.org) == {YEAR: 1000, YEAR + 1: -400}

    # b: 100 credited on its paid invoice, after the approval
    r = await client.post(
        f"/billing/invoices/{b.invoice['id']}/credit-notes",
        json={"reason": "order_change", "amount": 100, "credit_amount": 100},
        headers=admin_headers,
    )
    await ok(r, 201)
    assert await coop.patronage(b.org) == {YEAR: 500, YEAR + 1: -100}

    # the approved allocation and its rows are as they were
    assert await coop.rows(draft["id"]) == rows
    assert (
        await ok(await client.get(f"/cooperative/allocations/{draft['id']}", headers=admin_headers))
        == approved
    )
    params: dict[str, Any] = {"fiscal_year": YEAR + 1, "currency": "PLN", "surplus": 10}
    preview = await ok(
        await client.get("/cooperative/allocations/preview", params=params, headers=admin_headers)
    )
    assert preview["allocations"] == []  # both members' next-year patronage is negative so far

    async with runtime.sessionmaker() as session:
        found = await cooperative_api.check_patronage(session)
        mine = [v for v in found if v.subject_id in (draft["id"], a.account, b.account)]
        assert mine == []
        # an event slipped into the approved year (bypassing the rule) is reported
        await session.execute(
            text(
                """INSERT INTO cooperative.patronage_events
                       (id, patron_id, source_type, source_id, amount, currency, fiscal_year, occurred_at)
                   VALUES (gen_random_uuid(), :p, 'refund', gen_random_uuid(), -1, 'PLN', :y, now())"""
            ),
            {"p": rows[0]["patron_id"], "y": YEAR},
        )
        found = await cooperative_api.check_patronage(session)
        await session.rollback()
    assert {v.invariant for v in found if v.subject_id == draft["id"]} == {"allocation_matches_patronage"}


async def test_an_approval_waits_for_a_payment_being_recorded_and_then_finds_its_draft_stale(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    """Recording patronage holds its currency's lock shared, approving holds it exclusive: an
    approval cannot miss a payment committing meanwhile (which would then land in the year
    just approved, outside its allocation)."""
    coop = Cooperative(client, admin_headers, runtime, "RON")
    await coop.member(100)
    late = await coop.member(70, pay=False)
    draft = await ok(await coop.compute(50), 201)
    async with runtime.uow() as uow:
        await invoices.mark_paid(uow, uuid.UUID(late.invoice["id"]))  # counts in this year, not committed
        approval = asyncio.create_task(coop.approve(draft["id"]))
        await asyncio.sleep(1)
        assert not approval.done()
    assert_problem(await approval, 409, "allocation_stale")
    assert await coop.patronage(late.org) == {YEAR: 70}
    fresh = await ok(await coop.compute(50), 201)
    assert (await ok(await coop.approve(fresh["id"])))["total_patronage"] == 170
