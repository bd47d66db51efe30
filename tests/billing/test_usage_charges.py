"""On-demand usage reaches the invoice: billable overage becomes a priced usage charge linked to
the usage events it bills; an overage that cannot be priced is kept and flagged, never dropped."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import event, ok


async def soft_quota_with_ondemand(shop: Shop, price_ref: str | None) -> str:
    key = await shop.world.key()
    rules = [
        {
            "resource_key": key,
            "rule_type": "quota",
            "amount": 10,
            "reset_period": "month",
            "enforcement": "soft",
        }
    ]
    entitlement_set = await shop.world.set(rules)
    await shop.world.provision(shop.org, shop.pool, entitlement_set["id"])
    r = await shop.client.put(
        f"/entitlements/orgs/{shop.org}/pools/{shop.pool}/ondemand/{key}",
        json={"enabled": True, "price_ref": price_ref, "cap": "100"},
        headers=shop.headers,
    )
    await ok(r)
    return key


async def usage_charges(runtime: Runtime, account: str) -> list[dict]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.id, c.amount, c.description, c.invoice_id,"
                " (SELECT count(*) FROM billing.pending_charge_usage_events u"
                "   WHERE u.pending_charge_id = c.id) AS events"
                " FROM billing.pending_charges c WHERE c.account_id = :a AND c.kind = 'usage'"
                " ORDER BY c.created_at"
            ),
            {"a": account},
        )
        return [dict(r._mapping) for r in rows]


async def test_overage_is_charged_at_the_on_demand_price_and_invoiced(shop: Shop, runtime: Runtime) -> None:
    lookup = f"api-overage-{uuid.uuid4().hex[:8]}"
    await shop.price(unit_amount=25, lookup_key=lookup)
    key = await soft_quota_with_ondemand(shop, lookup)

    await ok(await shop.world.usage(shop.org, [event(shop.workspace, key, 8)]))  # within the quota
    await ok(await shop.world.usage(shop.org, [event(shop.workspace, key, 2), event(shop.workspace, key, 3)]))

    (charge,) = await usage_charges(runtime, shop.account)
    assert (charge["amount"], charge["events"], charge["invoice_id"]) == (75, 1, None)  # 3 units x 25
    assert charge["description"] == f"3 x {key} beyond the included amount"

    plan = await shop.price(unit_amount=1000)
    await shop.subscribe((plan["id"], 1))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    assert [(line["source"], line["amount"]) for line in invoice["lines"]] == [
        ("subscription_item", 1000), ("pending_charge", 75),
    ]  # fmt: skip
    assert invoice["total"] == 1075
    assert str((await usage_charges(runtime, shop.account))[0]["invoice_id"]) == invoice["id"]


async def test_an_overage_that_cannot_be_priced_is_kept_for_an_operator(shop: Shop, runtime: Runtime) -> None:
    """No price to price it: no charge at 0, an unpriced item instead (priced or waived in
    tests/billing/test_self_service_bounds.py)."""
    key = await soft_quota_with_ondemand(shop, None)
    await ok(await shop.world.usage(shop.org, [event(shop.workspace, key, 12)]))
    assert await usage_charges(runtime, shop.account) == []
    unpriced = (await ok(await shop.client.get("/billing/unpriced-usage", headers=shop.headers)))["items"]
    (mine,) = [u for u in unpriced if u["account_id"] == shop.account]
    assert (mine["quantity"], mine["resource_key"], mine["status"]) == ("2", key, "open")
    assert mine["reason"] == "no price_ref is configured"
    assert len(mine["usage_event_ids"]) == 1
