"""`keel billing reconcile` (issue 10 point 9) names every broken invariant: rows written past
the services (a refund larger than its payment, an invoice whose total disagrees with its lines,
a patronage event or an audit record removed) are each reported, and the command exits 1; on a
database where nothing is wrong it exits 0. The property-based runs that find nothing after
random sequences of operations are in test_money_properties.py."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import text

from modules.billing.contracts import Violation
from modules.reconcile import reconcile
from platform_core.core.config import Settings
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import paid_invoice, send
from tests.conftest import SERVER_URL, SUFFIX, database_url
from tests.e2e.test_cli import KEEL, suite_env


async def violations_of(runtime: Runtime, org_id: str) -> list[Violation]:
    """The reconcile's findings about one organization (the suite's database holds other tests'
    deliberately odd rows too)."""
    report = await reconcile(runtime)
    assert report.ok == (not report.violations)
    return [v for v in report.violations if str(v.org_id) == org_id]


async def tampered(runtime: Runtime, sql: str, params: dict[str, Any]) -> None:
    """Run `sql` with triggers off (append-only and immutability guards), as a broken tool would."""
    async with runtime.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(sql), params)


async def oversized_refund(
    runtime: Runtime,
    shop: Shop,
    invoice: dict[str, Any],
    payment: dict[str, Any],
    refund_id: Any,
    amount: int,
) -> None:
    """A succeeded refund of `amount` written straight into the table, past every check."""
    await tampered(
        runtime,
        """INSERT INTO billing.refunds (id, org_id, account_id, payment_id, invoice_id, provider,
               amount, currency, reason, status)
           VALUES (:id, :org, :account, :payment, :invoice, 'stripe', :amount, 'EUR', 'duplicate',
               'succeeded')""",
        {"id": refund_id, "org": shop.org, "account": shop.account, "payment": payment["id"],
         "invoice": invoice["id"], "amount": amount},
    )  # fmt: skip


async def test_a_sound_organization_has_no_violation(shop: Shop, runtime: Runtime) -> None:
    await paid_invoice(shop, runtime, unit_amount=1200)
    assert await violations_of(runtime, shop.org) == []


async def test_a_refund_made_in_stripes_dashboard_is_audited_as_it_was_learnt(
    shop: Shop, runtime: Runtime
) -> None:
    """Keel records it from Stripe's event and announces it as `billing.refund.updated` (a
    `created` would ask Stripe for it again): one such record is what the audit check wants."""
    _, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    await send(shop, runtime, "refund.updated", {
        "id": f"re_{uuid.uuid4().hex}", "object": "refund", "amount": 300, "currency": "eur",
        "payment_intent": payment["provider_payment_id"], "status": "succeeded", "metadata": {},
    })  # fmt: skip
    assert await violations_of(runtime, shop.org) == []
    await tampered(
        runtime,
        "DELETE FROM audit.audit_outbox WHERE target_type = 'refund' AND org_id = :o",
        {"o": shop.org},
    )
    await tampered(
        runtime, "DELETE FROM audit.audit_logs WHERE target_type = 'refund' AND org_id = :o", {"o": shop.org}
    )
    found = [(v.invariant, v.subject_type, v.detail) for v in await violations_of(runtime, shop.org)]
    assert [(i, t) for i, t, _ in found] == [("audited_once", "refund")]
    assert "0 audit record(s) of billing.refund.updated, expected at least 1" in found[0][2]


async def test_a_refund_larger_than_its_payment_is_named_three_times(shop: Shop, runtime: Runtime) -> None:
    invoice, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    refund_id = uuid.uuid4()
    await oversized_refund(runtime, shop, invoice, payment, refund_id, 1500)
    found = {(v.invariant, v.subject_type, v.subject_id): v for v in await violations_of(runtime, shop.org)}
    assert set(found) == {
        ("refunds_within_paid", "invoice", invoice["id"]),
        ("patronage_matches_billing", "billing_account", shop.account),
        ("audited_once", "refund", str(refund_id)),
    }
    assert "refunds 1500" in found[("refunds_within_paid", "invoice", invoice["id"])].detail
    assert "exceed the 1000 paid" in found[("refunds_within_paid", "invoice", invoice["id"])].detail
    assert (
        "patronage 1000 EUR" in found[("patronage_matches_billing", "billing_account", shop.account)].detail
    )


async def test_an_invoice_total_that_disagrees_with_its_lines_is_named(shop: Shop, runtime: Runtime) -> None:
    invoice, _ = await paid_invoice(shop, runtime, unit_amount=1000)
    await tampered(
        runtime,
        "UPDATE billing.invoices SET subtotal = subtotal + 5, total = total + 5, amount_due = amount_due + 5,"
        " amount_paid = amount_paid + 5 WHERE id = :i",
        {"i": invoice["id"]},
    )
    found = [(v.invariant, v.subject_id) for v in await violations_of(runtime, shop.org)]
    assert ("invoice_total", invoice["id"]) in found


async def test_a_missing_audit_record_or_patronage_event_is_named(shop: Shop, runtime: Runtime) -> None:
    invoice, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    for table in ("audit.audit_outbox", "audit.audit_logs"):
        await tampered(
            runtime,
            f"DELETE FROM {table} WHERE target_id = :p AND action = 'billing.payment.received'",
            {"p": payment["id"]},
        )
    await tampered(
        runtime, "DELETE FROM cooperative.patronage_events WHERE source_id = :i", {"i": invoice["id"]}
    )
    found = {(v.invariant, v.subject_id): v.detail for v in await violations_of(runtime, shop.org)}
    assert set(found) == {
        ("audited_once", payment["id"]),
        ("patronage_matches_billing", shop.account),
    }
    assert "0 audit record(s) of billing.payment.received" in found[("audited_once", payment["id"])]


async def test_a_duplicated_audit_record_is_named(shop: Shop, runtime: Runtime) -> None:
    _, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    columns = (
        "org_id, action, crud, outcome, actor_type, actor_id, actor_name, target_type, target_id,"
        " target_name, source_ip, user_agent, event_version, metadata, occurred_at"
    )
    await tampered(
        runtime,
        f"INSERT INTO audit.audit_outbox (id, event_id, {columns})"
        f" SELECT gen_random_uuid(), gen_random_uuid(), {columns} FROM audit.audit_outbox"
        " WHERE target_id = :p AND action = 'billing.payment.received'",
        {"p": payment["id"]},
    )
    found = {(v.invariant, v.subject_id): v.detail for v in await violations_of(runtime, shop.org)}
    assert "2 audit record(s)" in found[("audited_once", payment["id"])]


def run_reconcile(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEL, "billing", "reconcile"], env=env, capture_output=True, text=True, timeout=180, check=False
    )


async def test_the_command_exits_1_naming_each_violation(
    shop: Shop, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    invoice, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    await oversized_refund(runtime, shop, invoice, payment, uuid.uuid4(), 2000)
    done = await asyncio.to_thread(run_reconcile, suite_env(settings, tmp_path))
    assert done.returncode == 1, done.stderr
    assert f"VIOLATION refunds_within_paid invoice {invoice['id']}: " in done.stderr
    report = msgspec.json.decode(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is False
    assert invoice["id"] in [v["subject_id"] for v in report["violations"]]


async def test_the_command_exits_0_when_nothing_is_wrong(settings: Settings, tmp_path: Path) -> None:
    name = f"keel_reconcile_{SUFFIX}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(SERVER_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{name}"')
    try:
        env = {**suite_env(settings, tmp_path), "DATABASE_URL": database_url(name)}
        migrated = await asyncio.to_thread(
            subprocess.run,
            [KEEL, "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        done = await asyncio.to_thread(run_reconcile, env)
        assert done.returncode == 0, done.stderr
        assert msgspec.json.decode(done.stdout.strip().splitlines()[-1]) == {"ok": True, "violations": []}
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
