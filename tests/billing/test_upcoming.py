"""The upcoming invoice: computed without writing anything (no invoice, no pending charge, no
number, no trail, nothing in any outbox), and the same as the invoice the previewed change
really leads to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_metered_usage import metered_price, use
from tests.billing.test_plan_changes import APRIL, HALF_CENT_MOMENT, MAY, invoices, pro_setup, run, update
from tests.entitlements.conftest import Clock, ok

UPCOMING = "/billing/orgs/{org}/invoices/upcoming"


async def upcoming(shop: Shop, sub_id: str, **params: Any) -> Any:
    r = await shop.client.get(
        UPCOMING.format(org=shop.org), params={"subscription_id": sub_id, **params}, headers=shop.headers
    )
    return r


async def written(runtime: Runtime, org: str) -> tuple[Any, ...]:
    """Every row a preview could be tempted to write."""
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    """SELECT
                    (SELECT count(*) FROM billing.invoices WHERE org_id = :org),
                    (SELECT count(*) FROM billing.invoice_line_items l JOIN billing.invoices i
                        ON i.id = l.invoice_id WHERE i.org_id = :org),
                    (SELECT count(*) FROM billing.pending_charges WHERE org_id = :org),
                    (SELECT count(*) FROM billing.subscription_changes WHERE org_id = :org),
                    (SELECT count(*) FROM billing.subscription_items i JOIN billing.subscriptions s
                        ON s.id = i.subscription_id WHERE s.org_id = :org),
                    (SELECT next_number FROM billing.invoice_number_sequences WHERE issuer = 'keel'),
                    (SELECT count(*) FROM audit.audit_outbox WHERE org_id = :org),
                    (SELECT count(*) FROM integration.integration_outbox WHERE org_id = :org),
                    (SELECT count(*) FROM integration.provider_calls WHERE org_id = :org)"""
                ),
                {"org": org},
            )
        ).one()
    return tuple(row)


def shape(invoice: dict[str, Any]) -> dict[str, Any]:
    """What a preview and an invoice have in common (ids, numbers and statuses aside)."""
    keys = ("currency", "period_start", "period_end", "subtotal", "discount_total", "total", "amount_due")
    return {
        **{k: invoice[k] for k in keys},
        "lines": [
            (line["source"], line["description"], line["amount"], line["discount_amount"], line["price_id"])
            for line in invoice["lines"]
        ],
    }


async def test_the_preview_writes_nothing_and_is_the_invoice_the_change_leads_to(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    team, pro, sub = await pro_setup(shop, clock)
    item = sub["items"][0]["id"]
    clock.set(HALF_CENT_MOMENT)
    before = await written(runtime, shop.org)

    r = await upcoming(shop, sub["id"], items=[f"{item}:{pro}:"], proration_date=HALF_CENT_MOMENT.isoformat())
    preview = await ok(r)
    plain = await ok(await upcoming(shop, sub["id"]))

    assert await written(runtime, shop.org) == before
    assert "id" not in preview
    assert "number" not in preview
    assert [line["amount"] for line in preview["proration"]] == [-666, 2000]
    assert [(line["description"], line["amount"]) for line in preview["lines"]] == [
        ("1 x Pro", 3000),
        (f"Unused time on 1 x price {team}", -666),
        (f"Remaining time on 1 x price {pro}", 2000),
    ]
    assert (preview["period_start"], preview["period_end"]) == (
        "2031-05-01T12:00:00Z",
        "2031-06-01T12:00:00Z",
    )
    assert (preview["total"], preview["amount_due"]) == (4334, 4334)
    assert [(line["description"], line["amount"]) for line in plain["lines"]] == [("1 x Team", 1000)]

    await ok(
        await update(
            shop,
            sub["id"],
            items=[{"id": item, "price_id": pro}],
            proration_date=HALF_CENT_MOMENT.isoformat(),
        )
    )
    assert shape(await ok(await upcoming(shop, sub["id"]))) == shape(preview)
    clock.set(MAY)
    await run(runtime, "billing.renew_subscriptions")
    clock.set(MAY + timedelta(days=1))
    await run(runtime, "billing.finalize_invoices")

    renewal = (await invoices(shop))[-1]
    assert renewal["status"] == "open"
    assert shape(renewal) == shape(preview)


async def test_a_scheduled_change_shows_in_the_upcoming_invoice(shop: Shop, clock: Clock) -> None:
    _, pro, sub = await pro_setup(shop, clock)
    await ok(
        await update(shop, sub["id"], items=[{"id": sub["items"][0]["id"], "price_id": pro}], at="period_end")
    )

    preview = await ok(await upcoming(shop, sub["id"]))

    assert [(line["description"], line["amount"]) for line in preview["lines"]] == [("1 x Pro", 3000)]
    assert preview["proration"] == []


async def test_bad_proposals_are_refused_and_write_nothing(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    _, pro, sub = await pro_setup(shop, clock)
    item = sub["items"][0]["id"]
    yearly = (await shop.price(unit_amount=9000, interval="year"))["id"]
    before = await written(runtime, shop.org)
    cases = [
        ({"items": ["nonsense"]}, 400, "invalid_items"),
        ({"items": [f"{item}:{pro}:0"]}, 400, "invalid_items"),
        ({"items": [f"{pro}:{pro}:1"]}, 404, "subscription_item_not_found"),
        ({"items": [f"{item}:{yearly}:"]}, 422, "interval_mismatch"),
        ({"items": [f"{item}:deleted"]}, 422, "last_item"),
        (
            {"items": [f"{item}:{pro}:"], "proration_date": "2031-06-02T00:00:00Z"},
            422,
            "invalid_proration_date",
        ),
        (
            {"items": [f"{item}:{pro}:"], "proration_date": "2031-04-02T00:00:00"},
            400,
            "invalid_proration_date",
        ),
    ]
    for params, status, code in cases:
        r = await upcoming(shop, sub["id"], **params)
        assert (r.status_code, r.headers["content-type"], r.json()["code"]) == (
            status,
            "application/problem+json",
            code,
        ), (params, r.text)
    assert await written(runtime, shop.org) == before


async def test_the_ending_period_s_metered_usage_is_in_the_preview_as_the_renewal_bills_it(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    team = await shop.price(unit_amount=1000)
    key, metered = await metered_price(shop, unit_amount=3)
    sub = await shop.subscribe((team["id"], 1), (metered, 1))
    await use(shop, clock, key, ("7", APRIL + timedelta(days=2)), ("5", APRIL + timedelta(days=20)))
    before = await written(runtime, shop.org)

    preview = await ok(await upcoming(shop, sub["id"]))

    assert await written(runtime, shop.org) == before
    assert [(line["source"], line["amount"]) for line in preview["lines"]] == [
        ("subscription_item", 1000),
        ("metered_usage", 36),
    ]
    clock.set(MAY)
    await run(runtime, "billing.renew_subscriptions")
    clock.set(MAY + timedelta(days=1))
    await run(runtime, "billing.finalize_invoices")
    assert shape((await invoices(shop))[-1]) == shape(preview)
