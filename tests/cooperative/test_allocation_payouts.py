"""Paying an approved allocation: each row once, as a patronage dividend credit grant on the
member's billing account or as a recorded cash payout; paying again (even at the same time)
grants nothing more."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from platform_core.runtime.runtime import Runtime
from tests.cooperative.members import Cooperative
from tests.entitlements.conftest import ok
from tests.organization.helpers import assert_problem


async def grants_for(runtime: Runtime, row_id: str) -> list[int]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT amount FROM billing.credit_grants WHERE source_type = 'patronage' AND source_id = :r"
            ),
            {"r": row_id},
        )
        return [r[0] for r in rows]


async def credit_balance(coop: Cooperative, org: str, account: str) -> int:
    url = f"/billing/orgs/{org}/accounts/{account}/credit-balance"
    body = await ok(await coop.client.get(url, headers=coop.headers))
    return sum(b["balance"] for b in body["balances"] if b["currency"] == coop.currency)


async def test_each_row_is_paid_once_as_credit_or_cash(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    coop = Cooperative(client, admin_headers, runtime, "DKK")
    a, b, c = [await coop.member(amount) for amount in (100, 200, 300)]
    draft = await ok(await coop.compute(601), 201)
    row_a, row_b, row_c = await coop.rows(draft["id"])
    # 601 x 1/6, 2/6, 3/6 = 100.17, 200.33, 300.5: the unit left goes to c
    assert [row_a["amount"], row_b["amount"], row_c["amount"]] == [100, 200, 301]
    assert_problem(await coop.pay(draft["id"], row_a["id"], method="credit"), 409, "allocation_not_approved")
    await ok(await coop.approve(draft["id"]))

    # a: credit, granted once however often it is paid
    paid = await ok(await coop.pay(draft["id"], row_a["id"], method="credit"))
    payout = paid["payout"]
    assert (payout["method"], payout["amount"], payout["currency"]) == ("credit", 100, "DKK")
    assert payout["credit_grant_id"]
    again = await ok(await coop.pay(draft["id"], row_a["id"], method="credit"))
    assert again["payout"] == payout
    assert await grants_for(runtime, row_a["id"]) == [100]
    assert await credit_balance(coop, a.org, a.account) == 100
    assert_problem(
        await coop.pay(draft["id"], row_a["id"], method="cash", reference="x"),
        409,
        "allocation_row_already_paid",
    )

    # b: two payments at once make one grant
    both = await asyncio.gather(*(coop.pay(draft["id"], row_b["id"], method="credit") for _ in range(2)))
    assert [r.status_code for r in both] == [200, 200], [r.text for r in both]
    assert both[0].json()["payout"] == both[1].json()["payout"]
    assert await grants_for(runtime, row_b["id"]) == [200]
    assert await credit_balance(coop, b.org, b.account) == 200

    # c: cash, paid outside Keel and recorded with its reference
    assert_problem(await coop.pay(draft["id"], row_c["id"], method="cash"), 400)
    assert_problem(await coop.pay(draft["id"], row_c["id"], method="credit", reference="bank-1"), 400)
    assert_problem(await coop.pay(draft["id"], row_c["id"], method="cheque", reference="bank-1"), 400)
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert_problem(
        await coop.pay(draft["id"], row_c["id"], method="cash", reference="bank-1", paid_at=future),
        400,
        "invalid_window",
    )
    when = datetime(2026, 3, 1, tzinfo=UTC).isoformat()
    cash = await ok(await coop.pay(draft["id"], row_c["id"], method="cash", reference="bank-1", paid_at=when))
    assert (cash["payout"]["method"], cash["payout"]["reference"], cash["payout"]["credit_grant_id"]) == (
        "cash",
        "bank-1",
        None,
    )
    assert datetime.fromisoformat(cash["payout"]["paid_at"]) == datetime.fromisoformat(when)
    assert (await ok(await coop.pay(draft["id"], row_c["id"], method="cash", reference="bank-1")))[
        "payout"
    ] == cash["payout"]
    assert_problem(
        await coop.pay(draft["id"], row_c["id"], method="cash", reference="bank-2"),
        409,
        "allocation_row_already_paid",
    )
    assert await grants_for(runtime, row_c["id"]) == []
    assert await credit_balance(coop, c.org, c.account) == 0

    # the allocation shows each row's payout
    allocation = await ok(await client.get(f"/cooperative/allocations/{draft['id']}", headers=admin_headers))
    assert (allocation["paid_patrons"], allocation["paid_amount"]) == (3, 601)
    assert [r["payout"]["method"] for r in await coop.rows(draft["id"], paid="true")] == [
        "credit",
        "credit",
        "cash",
    ]
    assert await coop.rows(draft["id"], paid="false") == []
    assert_problem(
        await coop.pay(draft["id"], str(uuid.uuid4()), method="credit"), 404, "allocation_row_not_found"
    )

    with pytest.raises(DBAPIError, match="append-only"):
        async with runtime.engine.begin() as conn:
            await conn.execute(
                text("UPDATE cooperative.allocation_payouts SET reference = 'x' WHERE id = :p"),
                {"p": cash["payout"]["id"]},
            )


async def test_paying_a_whole_allocation_as_credit_skips_rows_of_nothing_and_rows_paid(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    coop = Cooperative(client, admin_headers, runtime, "CZK")
    for _ in range(3):
        await coop.member(100)
    draft = await ok(await coop.compute(2), 201)
    url = f"/cooperative/allocations/{draft['id']}/pay"
    assert_problem(await client.post(url, headers=admin_headers), 409, "allocation_not_approved")
    await ok(await coop.approve(draft["id"]))
    first, second, nothing = await coop.rows(draft["id"])
    assert [first["amount"], second["amount"], nothing["amount"]] == [1, 1, 0]  # ties: lowest member numbers
    await ok(await coop.pay(draft["id"], first["id"], method="cash", reference="till"))

    paid = await ok(await client.post(url, headers=admin_headers))
    assert (paid["paid_patrons"], paid["paid_amount"]) == (2, 2)
    assert await ok(await client.post(url, headers=admin_headers)) == paid
    assert await grants_for(runtime, first["id"]) == []
    assert await grants_for(runtime, second["id"]) == [1]
    assert_problem(await coop.pay(draft["id"], nothing["id"], method="credit"), 409, "nothing_to_pay")
