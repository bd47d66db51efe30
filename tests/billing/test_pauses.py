"""Paused collection after Stripe's `pause_collection`: `void` and `mark_uncollectible` withhold
the service and leave the renewal invoice voided / uncollectible (no pending charge swept into
it, nothing asked of the provider), resuming restores the service and bills a new period from
then; `keep_as_draft` keeps the service and holds the renewal draft until the pause ends, when
it is finalized; only billing writers pause."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from modules.identity import api as identity_api
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import billing_admin
from tests.entitlements.conftest import Clock, ok
from tests.organization.helpers import Person, join
from tests.support.payments import events_of

APRIL = datetime(2031, 4, 1, 12, tzinfo=UTC)
MAY = datetime(2031, 5, 1, 12, tzinfo=UTC)


async def run(runtime: Runtime, job: str) -> None:
    outcome = await runtime.scheduler.run_now(job)
    assert outcome is not None
    assert outcome.succeeded, outcome


async def invoices(shop: Shop) -> list[dict[str, Any]]:
    body = await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    found: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return found


async def pause(
    shop: Shop, sub_id: str, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return await shop.client.post(shop.url(sub_id, "/pause"), json=body, headers=headers or shop.headers)


async def open_pending(runtime: Runtime, org: str) -> list[int]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT amount FROM billing.pending_charges"
                " WHERE org_id = :org AND invoice_id IS NULL ORDER BY id"
            ),
            {"org": org},
        )
        return [r[0] for r in rows]


@pytest.mark.parametrize(("behavior", "status"), [("void", "void"), ("mark_uncollectible", "uncollectible")])
async def test_a_withholding_pause_suspends_service_and_its_renewal_invoice_is_not_collected(
    shop: Shop, clock: Clock, runtime: Runtime, behavior: str, status: str
) -> None:
    clock.set(APRIL)
    team = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((team["id"], 1))
    clock.set(APRIL + timedelta(days=15))
    r = await shop.client.patch(
        shop.url(sub["id"], f"/items/{sub['items'][0]['id']}"), json={"quantity": 2}, headers=shop.headers
    )
    await ok(r)
    assert await open_pending(runtime, shop.org) == [-500, 1000]

    paused = await ok(await pause(shop, sub["id"], behavior=behavior))

    assert (paused["behavior"], paused["resumed_at"]) == (behavior, None)
    assert (await shop.seats())["allowed"] is False
    clock.set(MAY)
    await run(runtime, "billing.renew_subscriptions")
    renewal = (await invoices(shop))[-1]
    assert (renewal["status"], renewal["period_start"]) == (status, "2031-05-01T12:00:00Z")
    assert renewal["number"] is not None
    assert [(line["description"], line["amount"]) for line in renewal["lines"]] == [("2 x Team", 2000)]
    assert await open_pending(runtime, shop.org) == [-500, 1000]  # kept for a real invoice
    assert (await shop.seats())["allowed"] is False

    clock.set(MAY + timedelta(days=9))
    resumed = await ok(await shop.client.post(shop.url(sub["id"], "/resume"), headers=shop.headers))

    assert resumed["resumed_at"] == "2031-05-10T12:00:00Z"
    assert (await shop.seats())["limit"] == "20"
    current = await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers))
    assert (current["current_period_start"], current["current_period_end"]) == (
        "2031-05-10T12:00:00Z",
        "2031-06-10T12:00:00Z",
    )
    restarted = (await invoices(shop))[-1]
    assert restarted["status"] == "open"
    assert [line["amount"] for line in restarted["lines"]] == [2000, -500, 1000]
    assert await open_pending(runtime, shop.org) == []
    kinds = [c["kind"] for c in await shop.changes(sub["id"])]
    assert kinds[-3:] == ["paused", "renewed", "resumed"]


async def test_a_void_pause_asks_the_provider_for_nothing(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(APRIL)
    r = await shop.client.patch(
        f"/billing/orgs/{shop.org}/accounts/{shop.account}",
        json={"collection_method": "charge_automatically"},
        headers=shop.headers,
    )
    await ok(r)
    team = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((team["id"], 1))
    (first,) = await invoices(shop)
    assert await events_of(runtime, "billing.payment_intent.requested", first["id"])  # collected
    await ok(await pause(shop, sub["id"], behavior="void"))

    clock.set(MAY)
    await run(runtime, "billing.renew_subscriptions")

    renewal = (await invoices(shop))[-1]
    assert (renewal["status"], renewal["collection_method"]) == ("void", "charge_automatically")
    assert await events_of(runtime, "billing.payment_intent.requested", renewal["id"]) == []


async def test_keep_as_draft_keeps_the_service_and_bills_it_when_the_pause_ends(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    team = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((team["id"], 1))
    clock.set(APRIL + timedelta(days=9))
    endless = await pause(shop, sub["id"], behavior="keep_as_draft")
    too_far = await pause(shop, sub["id"], behavior="keep_as_draft", resumes_at="2031-08-01T00:00:00Z")
    assert (endless.status_code, endless.json()["code"]) == (422, "resumes_at_required")
    assert (too_far.status_code, too_far.json()["code"]) == (422, "resumes_at_too_far")

    await ok(await pause(shop, sub["id"], behavior="keep_as_draft", resumes_at="2031-05-15T12:00:00Z"))
    twice = await pause(shop, sub["id"], behavior="void")
    assert (twice.status_code, twice.json()["code"]) == (409, "subscription_paused")

    assert (await shop.seats())["limit"] == "10"
    clock.set(MAY)
    await run(runtime, "billing.renew_subscriptions")
    clock.set(MAY + timedelta(days=2))
    await run(runtime, "billing.finalize_invoices")
    held = (await invoices(shop))[-1]
    assert (held["status"], held["auto_finalize_at"]) == ("draft", "2031-05-15T12:00:00Z")
    assert (await shop.seats())["limit"] == "10"

    clock.set(datetime(2031, 5, 15, 12, 1, tzinfo=UTC))
    await run(runtime, "billing.resume_subscriptions")

    billed = next(i for i in await invoices(shop) if i["id"] == held["id"])
    assert billed["status"] == "open"
    assert billed["number"] is not None
    assert billed["total"] == 1000
    pauses = await ok(await shop.client.get(shop.url(sub["id"], "/pauses"), headers=shop.headers))
    assert [p["resumed_at"] for p in pauses["items"]] == ["2031-05-15T12:01:00Z"]


async def test_only_billing_writers_pause_and_a_paused_plan_does_not_change(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    team = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((team["id"], 1))
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="A", email=email)
        token = await identity_api.issue_token(uow, person_id=person.id, name="tests", scopes=["*"])
    admin = Person(id=person.id, email=email, headers={"Authorization": f"Bearer {token.token}"})
    await join(shop.client, shop.org, Person(id=uuid.uuid4(), email="", headers=shop.headers), admin, "admin")

    refused = await pause(shop, sub["id"], headers=admin.headers, behavior="void")
    assert refused.status_code == 403
    assert (await shop.seats())["limit"] == "10"

    await ok(await pause(shop, sub["id"], headers=await billing_admin(shop, runtime), behavior="void"))
    change = await shop.client.post(
        shop.url(sub["id"], "/update"),
        json={"items": [{"id": sub["items"][0]["id"], "quantity": 3}]},
        headers=shop.headers,
    )
    assert (change.status_code, change.json()["code"]) == (409, "subscription_paused")
    not_paused = await shop.client.post(shop.url(sub["id"], "/resume"), headers=shop.headers)
    assert not_paused.status_code == 200
    again = await shop.client.post(shop.url(sub["id"], "/resume"), headers=shop.headers)
    assert (again.status_code, again.json()["code"]) == (409, "subscription_not_paused")
    assert (await shop.seats())["limit"] == "10"
