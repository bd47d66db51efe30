"""Dunning on real PostgreSQL with a controlled clock: an unpaid invoice walks its account down
the overdue ladder (past_due -> unpaid, checks and usage refused `suspended_for_nonpayment`,
through the hot cache too -> canceled -> frozen, writes to the org refused), each step once;
paying it, by mark-paid or by Stripe's payment_intent.succeeded, walks everything back up in
one transaction. An organization an operator froze for another reason stays frozen. Failed
automatic payments are retried on the account's policy schedule. Operators own the policies."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

import modules.billing.services.dunning as dunning_mod
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_subscriptions import renew
from tests.entitlements.conftest import Clock, event, ok, person_headers
from tests.organization.helpers import assert_problem
from tests.support.payments import send_webhook

POLICY = {
    "retry_days": [2, 4],
    "past_due_after_days": 1,
    "unpaid_after_days": 3,
    "cancel_after_days": 5,
    "freeze_after_days": 7,
}


@pytest.fixture
def dunning_clock(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The billing clock, read by dunning, suspensions and collection too; starts now."""
    clock.set(datetime.now(UTC).replace(microsecond=0))
    return clock


async def overdue_shop(shop: Shop, **policy: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The account collects automatically (due at once) under its own policy; one subscription,
    its first invoice open. Returns (subscription, invoice)."""
    r = await shop.client.patch(
        f"/billing/orgs/{shop.org}/accounts/{shop.account}",
        json={"collection_method": "charge_automatically"},
        headers=shop.headers,
    )
    await ok(r)
    r = await shop.client.post(
        "/billing/overdue-policies",
        json={"account_id": shop.account, **POLICY, **policy},
        headers=shop.headers,
    )
    await ok(r, 201)
    price = await shop.price(unit_amount=2500)
    sub = await shop.subscribe((price["id"], 1))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    assert invoice["status"] == "open"
    assert invoice["amount_due"] == 2500
    return sub, invoice


async def run_dunning(runtime: Runtime) -> str:
    outcome = await runtime.scheduler.run_now("billing.advance_dunning")
    assert outcome.succeeded, outcome.result
    return outcome.result


async def overdue(shop: Shop) -> dict[str, Any]:
    result: dict[str, Any] = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/overdue", headers=shop.headers)
    )
    return result


async def subscription(shop: Shop, sub_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await ok(await shop.client.get(shop.url(sub_id), headers=shop.headers))
    return result


async def organization(shop: Shop) -> dict[str, Any]:
    result: dict[str, Any] = await ok(
        await shop.client.get(f"/organizations/{shop.org}", headers=shop.headers)
    )
    return result


async def transitions(runtime: Runtime, account: str) -> list[tuple[int, str, str]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT episode, from_state, to_state FROM billing.overdue_transitions"
                " WHERE account_id = :a ORDER BY at, id"
            ),
            {"a": account},
        )
        return [(r.episode, r.from_state, r.to_state) for r in rows]


async def workspace_write(shop: Shop) -> int:
    r = await shop.client.post(
        f"/orgs/{shop.org}/workspaces",
        json={"slug": f"w-{uuid.uuid4().hex[:8]}", "name": "W"},
        headers=shop.headers,
    )
    return r.status_code


async def test_the_ladder_down_and_back_up(shop: Shop, runtime: Runtime, dunning_clock: Clock) -> None:
    sub, invoice = await overdue_shop(shop)
    t0 = dunning_clock()
    assert (await shop.seats())["allowed"] is True  # also puts the row in the hot cache

    # a failed automatic payment: retried on the account's policy schedule (2 days, not 3)
    await send_webhook(
        shop.client,
        runtime,
        "payment_intent.payment_failed",
        {
            "id": f"pi_{uuid.uuid4().hex[:12]}",
            "object": "payment_intent",
            "amount": 2500,
            "currency": "eur",
            "status": "requires_payment_method",
            "metadata": {"keel_invoice_id": invoice["id"], "keel_attempt": "1"},
            "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
        },
    )
    inv = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices/{invoice['id']}", headers=shop.headers)
    )
    assert inv["attempt_count"] == 1
    assert datetime.fromisoformat(inv["next_payment_attempt"]) == t0 + timedelta(days=2)

    # day 0: due, not past due yet
    await run_dunning(runtime)
    state = await overdue(shop)
    assert state["state"] == "current"
    assert state["days_past_due"] == 0
    assert state["next_step"] == {
        "state": "past_due",
        "at": (t0 + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
    }

    # day 1: past_due — the subscription's status changes, entitlements stay
    dunning_clock.set(t0 + timedelta(days=1, minutes=1))
    await run_dunning(runtime)
    assert (await subscription(shop, sub["id"]))["status"] == "past_due"
    assert (await shop.seats())["allowed"] is True
    assert (await overdue(shop))["state"] == "past_due"

    # day 3: unpaid — the pool is suspended: checks (database and hot cache) and usage refuse
    dunning_clock.set(t0 + timedelta(days=3, minutes=1))
    await run_dunning(runtime)
    assert (await subscription(shop, sub["id"]))["status"] == "unpaid"
    for _ in range(3):  # the first answer refills the hot cache, the next ones come from it
        check = await shop.seats()
        assert (check["allowed"], check["reason"]) == (False, "suspended_for_nonpayment"), check
    r = await shop.world.usage(shop.org, [event(shop.workspace, shop.key, 1)])
    assert (await ok(r))["results"][0]["reason"] == "suspended_for_nonpayment"

    # day 5: canceled, through the cancel path
    dunning_clock.set(t0 + timedelta(days=5, minutes=1))
    await run_dunning(runtime)
    canceled = await subscription(shop, sub["id"])
    assert canceled["status"] == "canceled"
    assert canceled["ended_at"] is not None
    assert (await shop.seats())["reason"] == "suspended_for_nonpayment"

    # day 7: frozen for non-payment — the organization is read-only
    dunning_clock.set(t0 + timedelta(days=7, minutes=1))
    await run_dunning(runtime)
    org = await organization(shop)
    assert org["status"] == "frozen"
    assert org["frozen_reason"] == "nonpayment"
    assert await workspace_write(shop) == 409

    # the job again, later: every step was taken once
    dunning_clock.set(t0 + timedelta(days=9))
    await run_dunning(runtime)
    assert await transitions(runtime, shop.account) == [
        (0, "current", "past_due"),
        (0, "past_due", "unpaid"),
        (0, "unpaid", "canceled"),
        (0, "canceled", "frozen"),
    ]
    state = await overdue(shop)
    assert state["state"] == "frozen"
    assert state["days_past_due"] == 9
    assert state["next_step"] is None
    assert state["amount_overdue"] == 2500
    assert state["oldest_unpaid_invoice_id"] == invoice["id"]

    # an operator records the payment: everything comes back in that one transaction
    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/mark-paid", headers=shop.headers))
    org = await organization(shop)
    assert org["status"] == "active"
    assert org["frozen_reason"] is None
    assert (await subscription(shop, sub["id"]))["status"] == "active"
    check = await shop.seats()
    assert (check["allowed"], check["limit"]) == (True, "10"), check
    assert await workspace_write(shop) == 201
    state = await overdue(shop)
    assert state["state"] == "current"
    assert state["next_step"] is None
    assert state["amount_overdue"] == 0
    assert [t["state"] for t in state["transitions"]] == [
        "past_due",
        "unpaid",
        "canceled",
        "frozen",
        "current",
    ]
    assert (await transitions(runtime, shop.account))[-1] == (1, "frozen", "current")
    kinds = [c["kind"] for c in await shop.changes(sub["id"])]
    assert kinds == ["created", "past_due", "unpaid", "canceled", "restored"]
    await run_dunning(runtime)
    assert len(await transitions(runtime, shop.account)) == 5


async def test_paying_does_not_lift_an_operators_freeze_for_another_reason(
    shop: Shop, runtime: Runtime, dunning_clock: Clock
) -> None:
    sub, invoice = await overdue_shop(shop)
    t0 = dunning_clock()
    r = await shop.client.post(
        f"/organizations/{shop.org}/status",
        json={"status": "frozen", "reason": "fraud investigation"},
        headers=shop.headers,
    )
    assert (await ok(r))["frozen_reason"] == "fraud investigation"

    dunning_clock.set(t0 + timedelta(days=8))
    await run_dunning(runtime)  # every step at once, in order; the freeze is the operator's
    assert [t[2] for t in await transitions(runtime, shop.account)] == [
        "past_due",
        "unpaid",
        "canceled",
        "frozen",
    ]
    assert (await organization(shop))["frozen_reason"] == "fraud investigation"

    # Stripe reports the payment: the account is restored, the operator's freeze stays
    await send_webhook(
        shop.client,
        runtime,
        "payment_intent.succeeded",
        {
            "id": f"pi_{uuid.uuid4().hex[:12]}",
            "object": "payment_intent",
            "amount": 2500,
            "amount_received": 2500,
            "currency": "eur",
            "status": "succeeded",
            "metadata": {"keel_invoice_id": invoice["id"]},
        },
    )
    assert (await overdue(shop))["state"] == "current"
    assert (await subscription(shop, sub["id"]))["status"] == "active"
    assert (await shop.seats())["allowed"] is True
    org = await organization(shop)
    assert org["status"] == "frozen"
    assert org["frozen_reason"] == "fraud investigation"
    assert await workspace_write(shop) == 409


async def test_an_unpaid_account_recovers_only_when_nothing_is_past_due(
    shop: Shop, runtime: Runtime, dunning_clock: Clock
) -> None:
    """A lenient policy moves an account back up; voiding the invoice clears it too."""
    sub, invoice = await overdue_shop(shop)
    t0 = dunning_clock()
    dunning_clock.set(t0 + timedelta(days=4))
    await run_dunning(runtime)
    assert (await overdue(shop))["state"] == "unpaid"

    policies = (await ok(await shop.client.get("/billing/overdue-policies?limit=500", headers=shop.headers)))[
        "items"
    ]
    own = next(p for p in policies if p["account_id"] == shop.account)
    r = await shop.client.patch(
        f"/billing/overdue-policies/{own['id']}",
        json={"unpaid_after_days": 10, "cancel_after_days": 12, "freeze_after_days": 14},
        headers=shop.headers,
    )
    await ok(r)
    await run_dunning(runtime)  # the policy now asks less: back to past_due, the pool resumed
    assert (await overdue(shop))["state"] == "past_due"
    assert (await subscription(shop, sub["id"]))["status"] == "past_due"
    assert (await shop.seats())["allowed"] is True

    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/void", headers=shop.headers))
    assert (await overdue(shop))["state"] == "current"
    assert (await subscription(shop, sub["id"]))["status"] == "active"
    assert await transitions(runtime, shop.account) == [
        (0, "current", "past_due"),
        (0, "past_due", "unpaid"),
        (1, "unpaid", "past_due"),
        (2, "past_due", "current"),
    ]


async def test_overdue_policies_are_operator_only_and_checked(shop: Shop, runtime: Runtime) -> None:
    policies = (await ok(await shop.client.get("/billing/overdue-policies?limit=500", headers=shop.headers)))[
        "items"
    ]
    default = policies[0]
    assert default["account_id"] is None
    assert default["retry_days"] == [3, 5, 7]
    assert (default["past_due_after_days"], default["freeze_after_days"]) == (1, 30)

    r = await shop.client.post(
        "/billing/overdue-policies",
        json={"account_id": shop.account, "cancel_after_days": 2},
        headers=shop.headers,
    )
    assert_problem(r, 422, "invalid_overdue_policy")
    r = await shop.client.post(
        "/billing/overdue-policies",
        json={"account_id": shop.account, "freeze_after_days": 60},
        headers=shop.headers,
    )
    own = await ok(r, 201)
    assert own["retry_days"] == default["retry_days"]
    assert own["freeze_after_days"] == 60
    r = await shop.client.post(
        "/billing/overdue-policies", json={"account_id": shop.account}, headers=shop.headers
    )
    assert_problem(r, 409, "overdue_policy_exists")
    r = await shop.client.post(
        "/billing/overdue-policies", json={"account_id": str(uuid.uuid4())}, headers=shop.headers
    )
    assert_problem(r, 404, "billing_account_not_found")
    r = await shop.client.patch(
        f"/billing/overdue-policies/{own['id']}", json={"past_due_after_days": 61}, headers=shop.headers
    )
    assert_problem(r, 422, "invalid_overdue_policy")
    r = await shop.client.patch(f"/billing/overdue-policies/{uuid.uuid4()}", json={}, headers=shop.headers)
    assert_problem(r, 404, "overdue_policy_not_found")

    # an organization's own owner reads where it stands but sets no policy, not even its own
    owner = await person_headers(runtime, "dunning-owner")
    org = await ok(
        await shop.client.post(
            "/organizations", json={"slug": f"own-{uuid.uuid4().hex[:8]}", "name": "Own Co"}, headers=owner
        ),
        201,
    )
    r = await shop.client.get(f"/billing/orgs/{org['id']}/overdue", headers=owner)
    assert (await ok(r))["state"] == "current"
    r = await shop.client.patch(
        f"/billing/overdue-policies/{own['id']}", json={"freeze_after_days": 365}, headers=owner
    )
    assert r.status_code in (403, 404), r.text
    assert (await shop.client.get("/billing/overdue-policies", headers=owner)).status_code in (403, 404)


async def test_concurrent_runs_take_each_step_once(
    shop: Shop, runtime: Runtime, dunning_clock: Clock
) -> None:
    """Workers racing on one account serialize on its overdue state row: every step is taken
    and recorded once, and a second freeze or cancellation never happens."""
    sub, _invoice = await overdue_shop(shop)

    async def one_run() -> int:
        async with runtime.uow() as uow:
            return await dunning_mod.reconcile(uow, uuid.UUID(shop.account))

    assert await one_run() == 0  # due today: its state row exists, `current`
    dunning_clock.set(dunning_clock() + timedelta(days=8))
    assert sorted(await asyncio.gather(*(one_run() for _ in range(4)))) == [0, 0, 0, 4]
    assert [t[2] for t in await transitions(runtime, shop.account)] == [
        "past_due",
        "unpaid",
        "canceled",
        "frozen",
    ]
    assert [c["kind"] for c in await shop.changes(sub["id"])] == ["created", "past_due", "unpaid", "canceled"]


async def test_a_reinstated_subscription_is_not_billed_for_the_time_it_was_withheld(
    shop: Shop, runtime: Runtime, dunning_clock: Clock
) -> None:
    sub, invoice = await overdue_shop(shop)
    t0 = dunning_clock()
    later = t0 + timedelta(days=40)  # past the paid month's end, canceled and frozen meanwhile
    dunning_clock.set(later)
    await run_dunning(runtime)
    assert (await subscription(shop, sub["id"]))["status"] == "canceled"

    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/mark-paid", headers=shop.headers))
    restored = await subscription(shop, sub["id"])
    assert restored["status"] == "active"
    assert datetime.fromisoformat(restored["current_period_start"]) == later  # a new period from now
    invoices = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers)))[
        "items"
    ]
    assert [(i["status"], i["amount_due"]) for i in invoices] == [("paid", 2500), ("open", 2500)]
    assert datetime.fromisoformat(invoices[1]["period_start"]) == later
    assert (await shop.seats())["allowed"] is True
    assert (await overdue(shop))["state"] == "current"  # the new invoice is due today, not past due
    await renew(runtime)
    assert (
        len(
            (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers)))[
                "items"
            ]
        )
        == 2
    )
