"""Property-based runs of billing's money lifecycle (issue 10 point 9): random sequences of
subscribe, change quantity, cancel, pay, fail a payment, refund (and its provider outcome),
credit note (and void), dispute (and its outcome) and the dunning clock, through the HTTP API,
Stripe's webhooks and the dunning service on real PostgreSQL, each sequence in a fresh
organization; after each one `keel billing reconcile`'s checks find nothing about it.

Operations pick their target by index among what exists (a refund among the payments, …) and
may be refused (409, 422: a refund larger than what is left, a frozen organization); a refusal
is a fine outcome, a 5xx never is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import modules.billing.services.dunning as dunning_mod
from modules.reconcile import reconcile
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import Clock, ok
from tests.support.fake_stripe import FakeStripe
from tests.support.payments import send_webhook, settle

FAST_LADDER = {
    "retry_days": [2, 4],
    "past_due_after_days": 1,
    "unpaid_after_days": 3,
    "cancel_after_days": 5,
    "freeze_after_days": 7,
}
PICK = st.integers(0, 9)
PERCENT = st.integers(1, 100)
SUBSCRIBE = st.tuples(st.just("subscribe"), st.integers(1, 4))
PAY = st.tuples(st.just("pay"), PICK)
REFUND = st.tuples(st.just("refund"), PICK, PERCENT, st.sampled_from(["succeeded", "failed", "pending"]))
CREDIT_NOTE = st.tuples(st.just("credit_note"), PICK, PERCENT, st.integers(0, 100))
DISPUTE = st.tuples(st.just("dispute"), PICK, PERCENT, st.sampled_from(["lost", "won", "needs_response"]))
OPERATIONS = st.one_of(  # money moves drawn more often than the rest
    SUBSCRIBE,
    SUBSCRIBE,
    st.tuples(st.just("quantity"), PICK, st.integers(1, 5)),
    st.tuples(st.just("cancel"), PICK, st.booleans()),
    PAY,
    PAY,
    PAY,
    st.tuples(st.just("fail"), PICK),
    REFUND,
    REFUND,
    REFUND,
    CREDIT_NOTE,
    CREDIT_NOTE,
    st.tuples(st.just("void_credit_note"), PICK),
    DISPUTE,
    DISPUTE,
    st.tuples(st.just("clock"), st.integers(1, 6)),
)


@pytest.fixture
def money_clock(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The billing clock (subscriptions, invoices, entitlements) read by dunning and collection too."""
    return clock


class Run:
    """One sequence in its own organization, which pays automatically (due at once) under a
    fast overdue ladder."""

    def __init__(self, shop: Shop, runtime: Runtime, clock: Clock, price_id: str) -> None:
        self.shop, self.runtime, self.time, self.price_id = shop, runtime, clock, price_id
        self.client: httpx.AsyncClient = shop.client
        self.headers = shop.headers
        self.log: list[str] = []

    async def get(self, path: str) -> Any:
        return await ok(await self.client.get(f"/billing/orgs/{self.shop.org}{path}", headers=self.headers))

    async def listed(self, path: str) -> list[Any]:
        """Every item of a list endpoint (one page: the run makes fewer than 500 of anything)."""
        page = await self.get(f"{path}?limit=500")
        assert page["next_cursor"] is None
        items: list[Any] = page["items"]
        return items

    def answered(self, what: str, r: httpx.Response) -> httpx.Response:
        self.log.append(f"{what} -> {r.status_code}")
        assert r.status_code < 500, f"{what}: {r.status_code} {r.text}"
        return r

    async def stripe(self, event_type: str, obj: dict[str, Any]) -> None:
        self.log.append(f"stripe {event_type} {obj.get('status', '')}")
        await send_webhook(self.client, self.runtime, event_type, obj)

    @staticmethod
    def pick(items: list[Any], index: int) -> Any:
        return items[index % len(items)] if items else None

    async def invoices(self, *statuses: str) -> list[dict[str, Any]]:
        return [i for i in await self.listed("/invoices") if i["status"] in statuses]

    async def payments(self) -> list[dict[str, Any]]:
        return [p for p in await self.listed("/payments") if p["status"] == "succeeded"]

    async def apply(self, op: tuple[Any, ...]) -> None:
        await getattr(self, op[0])(*op[1:])

    async def subscribe(self, quantity: int) -> None:
        self.answered(f"subscribe {quantity}", await self.shop.subscribe_raw((self.price_id, quantity)))

    async def quantity(self, index: int, quantity: int) -> None:
        subs = [s for s in await self.listed("/subscriptions") if s["status"] != "canceled"]
        sub = self.pick(subs, index)
        if sub is not None:
            url = self.shop.url(sub["id"], f"/items/{sub['items'][0]['id']}")
            r = await self.client.patch(url, json={"quantity": quantity}, headers=self.headers)
            self.answered(f"quantity {quantity}", r)

    async def cancel(self, index: int, at_period_end: bool) -> None:
        sub = self.pick(await self.listed("/subscriptions"), index)
        if sub is not None:
            r = await self.client.post(
                self.shop.url(sub["id"], "/cancel"),
                json={"at_period_end": at_period_end},
                headers=self.headers,
            )
            self.answered(f"cancel at_period_end={at_period_end}", r)

    async def pay(self, index: int) -> None:
        invoice = self.pick(await self.invoices("open"), index)
        if invoice is not None:
            await self.stripe(
                "payment_intent.succeeded",
                {"id": f"pi_{uuid.uuid4().hex}", "object": "payment_intent", "status": "succeeded",
                 "amount": invoice["amount_due"], "amount_received": invoice["amount_due"], "currency": "eur",
                 "metadata": {"keel_invoice_id": invoice["id"]}},
            )  # fmt: skip

    async def fail(self, index: int) -> None:
        invoice = self.pick(await self.invoices("open"), index)
        if invoice is not None:
            await self.stripe(
                "payment_intent.payment_failed",
                {"id": f"pi_{uuid.uuid4().hex}", "object": "payment_intent",
                 "status": "requires_payment_method", "amount": invoice["amount_due"], "currency": "eur",
                 "metadata": {"keel_invoice_id": invoice["id"]},
                 "last_payment_error": {"type": "card_error", "code": "card_declined",
                                        "decline_code": "insufficient_funds", "message": "Declined."}},
            )  # fmt: skip

    async def refund(self, index: int, percent: int, outcome: str) -> None:
        payment = self.pick(await self.payments(), index)
        if payment is None:
            return
        amount = max(1, payment["amount"] * percent // 100)
        r = self.answered(
            f"refund {amount} of {payment['amount']}",
            await self.client.post(
                f"/billing/orgs/{self.shop.org}/payments/{payment['id']}/refunds",
                json={"amount": amount, "reason": "requested_by_customer"},
                headers=self.headers,
            ),
        )
        if r.status_code == 201 and outcome != "pending":  # pending: answered by the last settle
            await settle(self.runtime)  # the (fake) Stripe refunds it: refund.created, succeeded
            if outcome == "failed":  # as Stripe may report later, for the same refund
                refund = next(
                    x
                    for x in await self.listed(f"/payments/{payment['id']}/refunds")
                    if x["id"] == r.json()["id"]
                )
                await self.stripe(
                    "refund.updated",
                    {"id": refund["provider_refund_id"], "object": "refund", "amount": refund["amount"],
                     "currency": "eur", "payment_intent": refund["provider_payment_id"], "status": "failed",
                     "failure_reason": "expired_or_canceled_card",
                     "metadata": {"keel_refund_id": refund["id"]}},
                )  # fmt: skip

    async def credit_note(self, index: int, percent: int, split: int) -> None:
        invoice = self.pick(await self.invoices("open", "paid"), index)
        room = invoice["total"] - invoice["amount_credited"] if invoice else 0
        if room <= 0:
            return
        amount = max(1, room * percent // 100)
        if invoice["status"] == "paid":
            refund = amount * split // 100
            body = {"amount": amount, "refund_amount": refund, "credit_amount": amount - refund}
        else:
            body = {"amount": amount, "credit_amount": amount * split // 100}
        r = await self.client.post(
            f"/billing/invoices/{invoice['id']}/credit-notes",
            json={"reason": "order_change", **body},
            headers=self.headers,
        )
        self.answered(f"credit note {body} on {invoice['status']} {invoice['total']}", r)

    async def void_credit_note(self, index: int) -> None:
        notes = [n for n in await self.listed("/credit-notes") if n["status"] == "issued"]
        note = self.pick(notes, index)
        if note is not None:
            r = await self.client.post(f"/billing/credit-notes/{note['id']}/void", headers=self.headers)
            self.answered("void credit note", r)

    async def dispute(self, index: int, percent: int, outcome: str) -> None:
        payment = self.pick(await self.payments(), index)
        if payment is None:
            return
        refunds = await self.listed(f"/payments/{payment['id']}/refunds")
        held = sum(r["amount"] for r in refunds if r["status"] in ("pending", "requires_action", "succeeded"))
        disputable = payment["amount"] - held  # as Stripe: a charge is disputed for what it still holds
        if disputable <= 0:
            return
        dispute = {
            "id": f"dp_{uuid.uuid4().hex}", "object": "dispute",
            "amount": max(1, disputable * percent // 100), "currency": "eur", "reason": "fraudulent",
            "status": "needs_response", "charge": "ch_x", "payment_intent": payment["provider_payment_id"],
        }  # fmt: skip
        await self.stripe("charge.dispute.created", dispute)
        if outcome != "needs_response":
            await self.stripe("charge.dispute.closed", {**dispute, "status": outcome})

    async def clock(self, days: int) -> None:
        self.time.set(self.time() + timedelta(days=days))
        self.log.append(f"clock +{days}d")
        async with self.runtime.uow() as uow:
            await dunning_mod.reconcile(uow, uuid.UUID(self.shop.account))


async def fresh_shop(base: Shop) -> Shop:
    world, client, headers = base.world, base.client, base.headers
    org = await world.org()
    workspace = await world.workspace(org)
    pool = await world.pool(org)
    await world.assign(org, pool, workspace)
    r = await client.post(
        f"/billing/orgs/{org}/accounts",
        json={"name": "Prop", "email": "prop@example.test", "currency": "EUR",
              "collection_method": "charge_automatically"},
        headers=headers,
    )  # fmt: skip
    account = (await ok(r, 201))["id"]
    r = await client.post(
        "/billing/overdue-policies", json={"account_id": account, **FAST_LADDER}, headers=headers
    )
    await ok(r, 201)
    return Shop(client, headers, world, org, workspace, pool, account, base.product, base.key)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(OPERATIONS, min_size=6, max_size=14))
async def test_after_any_sequence_the_reconcile_finds_nothing(
    shop: Shop,
    runtime: Runtime,
    money_clock: Clock,
    fake_stripe: FakeStripe,
    operations: list[tuple[Any, ...]],
) -> None:
    """Refunds of Stripe payments are asked of the fake Stripe, so none is left for later tests."""
    money_clock.set(datetime.now(UTC).replace(microsecond=0))
    price = await shop.price(unit_amount=1000)
    run = Run(await fresh_shop(shop), runtime, money_clock, price["id"])
    for op in [("subscribe", 1), *operations]:
        await run.apply(op)
    await settle(runtime)
    report = await reconcile(runtime)
    mine = [v for v in report.violations if str(v.org_id) == run.shop.org]
    assert mine == [], "\n".join(run.log)
