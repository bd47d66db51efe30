"""Drafts: a renewal's invoice waits `invoice_finalize_delay_seconds` as a draft (Stripe's
hour), during which operators may add one-off lines; the finalize job or an operator
finalizes it; a finalized invoice takes no line, not even by SQL; lists are cursor pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import Clock, ok, person_headers
from tests.organization.helpers import assert_problem

APRIL = datetime(2031, 4, 1, 12, tzinfo=UTC)


async def listed(shop: Shop, query: str = "") -> dict[str, Any]:
    page: dict[str, Any] = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices{query}", headers=shop.headers)
    )
    return page


async def run_job(runtime: Runtime, name: str) -> str:
    outcome = await runtime.scheduler.run_now(name)
    assert outcome is not None
    assert outcome.succeeded, outcome
    return outcome.result


async def renewed_draft(shop: Shop, clock: Clock, runtime: Runtime) -> dict[str, Any]:
    clock.set(APRIL)
    price = await shop.price(unit_amount=1000)
    await shop.subscribe((price["id"], 2))
    clock.set(APRIL + timedelta(days=30, minutes=1))
    await run_job(runtime, "billing.renew_subscriptions")
    first, draft = (await listed(shop))["items"]
    assert first["status"] == "open"  # a subscription's first invoice is finalized at once
    return draft


async def test_a_renewal_waits_as_a_draft_until_the_delay_passes(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    draft = await renewed_draft(shop, clock, runtime)
    renewed_at = APRIL + timedelta(days=30, minutes=1)
    delay = runtime.settings.invoice_finalize_delay_seconds
    assert delay == 3600
    assert (draft["status"], draft["number"], draft["finalized_at"], draft["amount_due"]) == (
        "draft",
        None,
        None,
        0,
    )
    assert draft["total"] == 2000
    assert datetime.fromisoformat(draft["auto_finalize_at"]) == renewed_at + timedelta(seconds=delay)

    url = f"/billing/orgs/{shop.org}/invoices/{draft['id']}"
    clock.set(renewed_at + timedelta(seconds=delay - 1))
    await run_job(runtime, "billing.finalize_invoices")
    assert (await ok(await shop.client.get(url, headers=shop.headers)))["status"] == "draft"
    clock.set(renewed_at + timedelta(seconds=delay))
    assert (await run_job(runtime, "billing.finalize_invoices")).startswith("finalized ")
    final = await ok(await shop.client.get(url, headers=shop.headers))
    assert (final["status"], final["amount_due"], final["auto_finalize_at"]) == ("open", 2000, None)
    assert final["number"] is not None
    assert final["finalized_at"] is not None


async def test_operators_add_one_off_lines_to_a_draft_and_finalize_it(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    draft = await renewed_draft(shop, clock, runtime)
    lines_url = f"/billing/invoices/{draft['id']}/lines"
    grown = await ok(
        await shop.client.post(
            lines_url,
            json={"description": "Onboarding session", "unit_amount": 500, "quantity": 3},
            headers=shop.headers,
        ),
        201,
    )
    assert (grown["status"], grown["subtotal"], grown["total"]) == ("draft", 3500, 3500)
    assert grown["lines"][-1] | {"id": None} == grown["lines"][-1] | {
        "id": None, "source": "one_off", "description": "Onboarding session", "quantity": 3,
        "unit_amount": 500, "amount": 1500, "price_id": None,
    }  # fmt: skip
    goodwill = await ok(
        await shop.client.post(
            lines_url, json={"description": "Goodwill", "unit_amount": -200}, headers=shop.headers
        ),
        201,
    )
    assert goodwill["total"] == 3300

    member = await person_headers(runtime, "Customer")
    assert_problem(
        await shop.client.post(lines_url, json={"description": "x", "unit_amount": 1}, headers=member), 403
    )
    assert_problem(await shop.client.post(f"/billing/invoices/{draft['id']}/finalize", headers=member), 403)
    assert_problem(
        await shop.client.post(
            lines_url,
            json={"description": "x", "unit_amount": 1, "price_id": draft["id"]},
            headers=shop.headers,
        ),
        422,
    )
    recurring = await shop.price(unit_amount=100)
    assert_problem(
        await shop.client.post(
            lines_url, json={"description": "x", "price_id": recurring["id"]}, headers=shop.headers
        ),
        422,
    )

    final = await ok(
        await shop.client.post(f"/billing/invoices/{draft['id']}/finalize", headers=shop.headers)
    )
    assert (final["status"], final["total"], final["amount_due"]) == ("open", 3300, 3300)
    again = await ok(
        await shop.client.post(f"/billing/invoices/{draft['id']}/finalize", headers=shop.headers)
    )
    assert again == final  # finalizing a finalized invoice changes nothing
    assert_problem(
        await shop.client.post(
            lines_url, json={"description": "late", "unit_amount": 1}, headers=shop.headers
        ),
        409,
    )
    with pytest.raises(DBAPIError, match="finalized; its lines never change"):
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                text(
                    "INSERT INTO billing.invoice_line_items (id, invoice_id, source, description, amount)"
                    " VALUES (gen_random_uuid(), :id, 'one_off', 'sneaked in', 1)"
                ),
                {"id": draft["id"]},
            )


async def test_a_draft_is_neither_paid_nor_voided_nor_collected(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    draft = await renewed_draft(shop, clock, runtime)
    for action in ("mark-paid", "void"):
        problem = assert_problem(
            await shop.client.post(f"/billing/invoices/{draft['id']}/{action}", headers=shop.headers), 409
        )
        assert problem["code"] == "invoice_draft"
    assert_problem(
        await shop.client.post(f"/billing/orgs/{shop.org}/invoices/{draft['id']}/pay", headers=shop.headers),
        409,
    )


async def test_invoice_lists_are_cursor_pages_filtered_by_status(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    draft = await renewed_draft(shop, clock, runtime)
    first = await listed(shop, "?limit=1")
    assert len(first["items"]) == 1
    assert first["next_cursor"]
    second = await listed(shop, f"?limit=1&cursor={first['next_cursor']}")
    assert [i["id"] for i in second["items"]] == [draft["id"]]
    assert second["next_cursor"] is None
    assert [i["id"] for i in (await listed(shop, "?status=draft"))["items"]] == [draft["id"]]
    assert_problem(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices?status=nope", headers=shop.headers), 400
    )
