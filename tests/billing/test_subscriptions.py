"""Subscriptions drive entitlements: subscribing provisions the product's set x quantity, a
quantity change is prorated to the second and re-provisions, cancellation ends capacity at the
right moment, renewals follow the calendar, and every change stays in an immutable trail."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from modules.billing.models import Invoice
from modules.billing.services.invoice_finalize import finalize_invoice
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import Clock, ok

APRIL = datetime(2031, 4, 1, 12, tzinfo=UTC)  # a 30-day period: April 1 to May 1


async def renew(runtime: Runtime) -> str:
    """Run the renewal job, then finalize the drafts it made as an operator would (a renewal's
    invoice waits `invoice_finalize_delay_seconds` as a draft; tests/billing/test_invoice_drafts.py
    shows the wait itself)."""
    outcome = await runtime.scheduler.run_now("billing.renew_subscriptions")
    assert outcome is not None
    assert outcome.succeeded, outcome
    await finalize_drafts(runtime)
    return outcome.result


async def finalize_drafts(runtime: Runtime) -> None:
    async with runtime.uow() as uow:
        drafts = await uow.session.scalars(
            select(Invoice.id).where(Invoice.status == "draft").order_by(Invoice.id)
        )
        for invoice_id in list(drafts):
            await finalize_invoice(uow, invoice_id)


async def test_subscribing_provisions_the_products_entitlements(shop: Shop, clock: Clock) -> None:
    clock.set(APRIL)
    price = await shop.price()
    sub = await shop.subscribe((price["id"], 3))

    assert (sub["status"], sub["currency"], sub["interval"]) == ("active", "EUR", "month")
    assert (sub["current_period_start"], sub["current_period_end"]) == (
        "2031-04-01T12:00:00Z",
        "2031-05-01T12:00:00Z",
    )
    (item,) = sub["items"]
    assert item["provision_id"] is not None
    assert (await shop.seats())["limit"] == "30"
    (created,) = await shop.changes(sub["id"])
    assert (created["kind"], created["before"], created["after"]["items"][0]["quantity"]) == (
        "created",
        None,
        3,
    )


async def test_a_quantity_change_is_prorated_and_reprovisioned(shop: Shop, clock: Clock) -> None:
    clock.set(APRIL)
    price = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((price["id"], 3))
    clock.set(APRIL + timedelta(days=10))  # 20 of 30 days left

    r = await shop.client.patch(
        shop.url(sub["id"], f"/items/{sub['items'][0]['id']}"), json={"quantity": 5}, headers=shop.headers
    )

    assert (await ok(r))["items"][0]["quantity"] == 5
    assert (await shop.seats())["limit"] == "50"
    change = (await shop.changes(sub["id"]))[-1]
    assert change["kind"] == "quantity_changed"
    assert [line["amount"] for line in change["proration"]] == [-2000, 3333]  # 3000 x 20/30, 5000 x 20/30
    assert {line["period_end"] for line in change["proration"]} == {"2031-05-01T12:00:00Z"}
    assert (change["before"]["items"][0]["quantity"], change["after"]["items"][0]["quantity"]) == (3, 5)


async def test_concurrent_quantity_changes_leave_one_consistent_story(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    price = await shop.price()
    sub = await shop.subscribe((price["id"], 1))
    item_url = shop.url(sub["id"], f"/items/{sub['items'][0]['id']}")

    results = await asyncio.gather(
        *(shop.client.patch(item_url, json={"quantity": q}, headers=shop.headers) for q in range(2, 12))
    )

    assert all(r.status_code == 200 for r in results)
    final = (await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers)))["items"][0][
        "quantity"
    ]
    changes = (await shop.changes(sub["id"]))[1:]
    assert len(changes) == 10
    for earlier, later in itertools.pairwise(changes):  # each change starts where the last ended
        assert later["before"]["items"] == earlier["after"]["items"]
    assert changes[-1]["after"]["items"][0]["quantity"] == final
    assert (await shop.seats())["limit"] == str(10 * final)


async def test_canceling_at_period_end_keeps_capacity_until_then(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    price = await shop.price()
    sub = await shop.subscribe((price["id"], 2))
    clock.set(APRIL + timedelta(days=5))
    r = await shop.client.post(shop.url(sub["id"], "/cancel"), json={}, headers=shop.headers)
    assert (await ok(r))["cancel_at_period_end"] is True
    assert (await shop.seats())["limit"] == "20"

    clock.set(APRIL + timedelta(days=30, seconds=1))  # the period ended; no job has run yet
    assert (await shop.seats())["limit"] == "0"
    await renew(runtime)
    ended = await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers))
    assert (ended["status"], ended["ended_at"]) == ("canceled", "2031-05-01T12:00:00Z")
    assert [c["kind"] for c in await shop.changes(sub["id"])] == ["created", "cancel_scheduled", "canceled"]


async def test_a_reactivated_subscription_renews_into_the_next_period(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    price = await shop.price()
    sub = await shop.subscribe((price["id"], 2))
    await ok(
        await shop.client.post(
            shop.url(sub["id"], "/cancel"), json={"at_period_end": True}, headers=shop.headers
        )
    )
    r = await shop.client.post(shop.url(sub["id"], "/reactivate"), headers=shop.headers)
    assert (await ok(r))["cancel_at_period_end"] is False
    again = await shop.client.post(shop.url(sub["id"], "/reactivate"), headers=shop.headers)
    assert again.status_code == 409

    clock.set(APRIL + timedelta(days=31))
    await renew(runtime)
    renewed = await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers))
    assert (renewed["status"], renewed["current_period_start"]) == ("active", "2031-05-01T12:00:00Z")
    assert renewed["current_period_end"] == "2031-06-01T12:00:00Z"
    assert (await shop.seats())["limit"] == "20"


async def test_canceling_now_credits_the_unused_time_and_ends_capacity(shop: Shop, clock: Clock) -> None:
    clock.set(APRIL)
    price = await shop.price(unit_amount=3000)
    sub = await shop.subscribe((price["id"], 1))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/mark-paid", headers=shop.headers))
    clock.set(APRIL + timedelta(days=20))
    r = await shop.client.post(
        shop.url(sub["id"], "/cancel"), json={"at_period_end": False}, headers=shop.headers
    )
    canceled = await ok(r)
    assert (canceled["status"], canceled["ended_at"]) == ("canceled", "2031-04-21T12:00:00Z")
    assert (await shop.seats())["limit"] == "0"
    change = (await shop.changes(sub["id"]))[-1]
    assert [line["amount"] for line in change["proration"]] == [-1000]
    again = await shop.client.post(
        shop.url(sub["id"], "/cancel"), json={"at_period_end": False}, headers=shop.headers
    )
    assert (await ok(again))["ended_at"] == "2031-04-21T12:00:00Z"  # nothing changes twice
    patch = await shop.client.patch(
        shop.url(sub["id"], f"/items/{sub['items'][0]['id']}"), json={"quantity": 2}, headers=shop.headers
    )
    assert patch.status_code == 409


async def test_periods_follow_month_ends_and_catch_up_after_a_pause(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(datetime(2030, 1, 31, 8, tzinfo=UTC))
    price = await shop.price()
    sub = await shop.subscribe((price["id"], 1))
    assert sub["current_period_end"] == "2030-02-28T08:00:00Z"
    clock.set(datetime(2030, 3, 1, tzinfo=UTC))
    await renew(runtime)
    current = await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers))
    assert (current["current_period_start"], current["current_period_end"]) == (
        "2030-02-28T08:00:00Z", "2030-03-31T08:00:00Z",
    )  # fmt: skip
    clock.set(datetime(2030, 5, 15, tzinfo=UTC))  # no job ran for six weeks
    await renew(runtime)
    current = await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers))
    assert (current["current_period_start"], current["current_period_end"]) == (
        "2030-04-30T08:00:00Z", "2030-05-31T08:00:00Z",
    )  # fmt: skip


async def test_a_trial_is_free_then_paid_periods_start_at_its_end(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    price = await shop.price(trial_period_days=14)  # the trial operators offer
    sub = await shop.subscribe((price["id"], 1))
    assert (sub["status"], sub["trial_end"], sub["current_period_end"]) == (
        "trialing", "2031-04-15T12:00:00Z", "2031-04-15T12:00:00Z",
    )  # fmt: skip
    assert (await shop.seats())["limit"] == "10"
    clock.set(APRIL + timedelta(days=2))
    r = await shop.client.patch(
        shop.url(sub["id"], f"/items/{sub['items'][0]['id']}"), json={"quantity": 4}, headers=shop.headers
    )
    await ok(r)
    assert (await shop.changes(sub["id"]))[-1]["proration"] == []  # nothing to prorate in a trial
    clock.set(APRIL + timedelta(days=14, hours=1))
    await renew(runtime)
    paid = await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers))
    assert (paid["status"], paid["billing_cycle_anchor"]) == ("active", "2031-04-15T12:00:00Z")
    assert (paid["current_period_start"], paid["current_period_end"]) == (
        "2031-04-15T12:00:00Z",
        "2031-05-15T12:00:00Z",
    )
    assert (await shop.changes(sub["id"]))[-1]["kind"] == "trial_ended"


async def test_the_change_trail_cannot_be_edited(shop: Shop, runtime: Runtime) -> None:
    price = await shop.price()
    sub = await shop.subscribe((price["id"], 1))
    for statement in (
        "UPDATE billing.subscription_changes SET kind = 'renewed' WHERE subscription_id = :s",
        "DELETE FROM billing.subscription_changes WHERE subscription_id = :s",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement), {"s": sub["id"]})
    assert len(await shop.changes(sub["id"])) == 1


async def test_subscribing_twice_with_one_idempotency_key_subscribes_once(shop: Shop) -> None:
    price = await shop.price()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first, second = await asyncio.gather(
        shop.subscribe_raw((price["id"], 2), headers=key), shop.subscribe_raw((price["id"], 2), headers=key)
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    listed = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/subscriptions", headers=shop.headers))
    )["items"]
    assert [s["id"] for s in listed] == [first.json()["id"]]
    assert (await shop.seats())["limit"] == "20"
