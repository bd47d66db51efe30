"""Credit with time: the expiry job writes one `expired` row for what is left of a grant past
its `expires_at`, once; and `keel billing reconcile` finds a ledger that disagrees with its
grant (the `credit_balance` invariant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modules.billing.services.credit_lifecycle import expire_due
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_reconcile import tampered, violations_of
from tests.entitlements.conftest import Clock, ok

NOW = datetime(2032, 3, 1, 9, tzinfo=UTC)


async def grant(shop: Shop, **body: Any) -> dict[str, Any]:
    fields = {"amount": 1000, "category": "promotional", "description": "Spring offer", **body}
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-grants"
    result: dict[str, Any] = await ok(await shop.client.post(url, json=fields, headers=shop.headers), 201)
    return result


async def history(shop: Shop, grant_id: str) -> list[tuple[str, int]]:
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-grants/{grant_id}/transactions"
    page = await ok(await shop.client.get(url, headers=shop.headers))
    return [(t["kind"], t["amount"]) for t in page["items"]]


async def expire_all(runtime: Runtime) -> int:
    """Run the job until nothing is due (other tests' grants may be due too)."""
    total = 0
    while True:
        async with runtime.uow() as uow:
            done = await expire_due(uow)
        total += done
        if done == 0:
            return total


async def test_a_grant_past_its_expiry_expires_once(shop: Shop, runtime: Runtime, clock: Clock) -> None:
    clock.set(NOW)
    soon = await grant(shop, expires_at=(NOW + timedelta(days=7)).isoformat())
    later = await grant(shop, amount=300, expires_at=(NOW + timedelta(days=60)).isoformat())
    forever = await grant(shop, amount=50)
    await expire_all(runtime)
    assert await history(shop, soon["id"]) == [("grant", 1000)]

    clock.set(NOW + timedelta(days=7))  # expiring exactly now: gone
    assert await expire_all(runtime) >= 1
    assert await history(shop, soon["id"]) == [("grant", 1000), ("expired", -1000)]
    assert await history(shop, later["id"]) == [("grant", 300)]
    clock.set(NOW + timedelta(days=8))
    await expire_all(runtime)
    assert await history(shop, soon["id"]) == [("grant", 1000), ("expired", -1000)]  # once

    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-balance"
    balance = await ok(await shop.client.get(url, headers=shop.headers))
    assert balance["balances"] == [{"currency": "EUR", "balance": 350, "available": 350}]
    assert [g["id"] for g in balance["grants"]] == [later["id"], forever["id"]]
    expired = await ok(
        await shop.client.get(
            f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-grants/{soon['id']}",
            headers=shop.headers,
        )
    )
    assert (expired["remaining"], expired["expired_at"]) == (0, "2032-03-08T09:00:00Z")
    assert await violations_of(runtime, shop.org) == []


async def test_reconcile_finds_a_ledger_that_disagrees_with_its_grant(
    shop: Shop, runtime: Runtime, clock: Clock
) -> None:
    clock.set(NOW)
    overdrawn = await grant(shop, amount=400)
    regranted = await grant(shop, amount=200)
    voided = await grant(shop, amount=100)
    assert await violations_of(runtime, shop.org) == []
    insert = (
        "INSERT INTO billing.credit_transactions (id, grant_id, org_id, kind, amount)"
        " SELECT gen_random_uuid(), id, org_id, :kind, :amount FROM billing.credit_grants WHERE id = :g"
    )
    await tampered(runtime, insert, {"g": overdrawn["id"], "kind": "expired", "amount": -401})
    await tampered(
        runtime, "UPDATE billing.credit_grants SET amount = 250 WHERE id = :g", {"g": regranted["id"]}
    )
    await tampered(
        runtime, "UPDATE billing.credit_grants SET voided_at = now() WHERE id = :g", {"g": voided["id"]}
    )
    found = {(v.invariant, v.subject_id): v.detail for v in await violations_of(runtime, shop.org)}
    assert set(found) == {("credit_balance", g["id"]) for g in (overdrawn, regranted, voided)}
    assert "balance -1" in found[("credit_balance", overdrawn["id"])]
    assert "grant row(s) of 200" in found[("credit_balance", regranted["id"])]
    assert "(voided or expired)" in found[("credit_balance", voided["id"])]
