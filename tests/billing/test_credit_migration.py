"""billing_0027_credit_grants's data step: open credits (negative `credit` pending charges)
become credit grants and come back on downgrade; nothing else moves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from migrations import KEEL_MIGRATIONS as migrate
from platform_core.persistence.db import asyncpg_dsn
from tests.conftest import SERVER_URL, SUFFIX, database_url

SCRATCH_DB = f"keel_credit_mig_{SUFFIX}"
BEFORE, AFTER = "billing_0026_invoice_drafts", "billing_0027_credit_grants"


async def _run(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


def run(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(_run(url, sql, *args))


@pytest.fixture
def scratch() -> Iterator[str]:
    run(SERVER_URL, f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
    run(SERVER_URL, f'CREATE DATABASE "{SCRATCH_DB}"')
    yield database_url(SCRATCH_DB)
    run(SERVER_URL, f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')


def charge(url: str, ids: dict[str, uuid.UUID], kind: str, amount: int, invoice: bool = False) -> uuid.UUID:
    charge_id = uuid.uuid4()
    run(
        url,
        """INSERT INTO billing.pending_charges (id, org_id, account_id, kind, description, amount, currency,
                                                invoice_id)
           VALUES ($1, $2, $3, $4, $5, $6, 'EUR', $7)""",
        charge_id, ids["org"], ids["account"], kind, f"{kind} {amount}", amount,
        ids["invoice"] if invoice else None,
    )  # fmt: skip
    return charge_id


def note(
    url: str, ids: dict[str, uuid.UUID], number: str, credit: int, charge_id: uuid.UUID, void: bool
) -> uuid.UUID:
    note_id = uuid.uuid4()
    run(
        url,
        """INSERT INTO billing.credit_notes
             (id, number, org_id, account_id, invoice_id, invoice_paid, status, currency, reason, amount,
              credit_amount, pending_charge_id, voided_at)
           VALUES ($1, $2, $3, $4, $5, true, $6, 'EUR', 'duplicate', $7, $7, $8, $9)""",
        note_id, number, ids["org"], ids["account"], ids["invoice"], "void" if void else "issued", credit,
        charge_id, datetime(2031, 1, 2, tzinfo=UTC) if void else None,
    )  # fmt: skip
    return note_id


def test_open_credits_become_grants_and_come_back(scratch: str) -> None:
    migrate.upgrade(scratch, BEFORE)
    ids = {"org": uuid.uuid4(), "account": uuid.uuid4(), "invoice": uuid.uuid4()}
    run(
        scratch,
        "INSERT INTO organization.organizations (id, slug, name) VALUES ($1, 'acme', 'Acme')",
        ids["org"],
    )
    run(
        scratch,
        """INSERT INTO billing.billing_accounts (id, org_id, name, email, currency)
           VALUES ($1, $2, 'Acme', 'billing@acme.example', 'EUR')""",
        ids["account"], ids["org"],
    )  # fmt: skip
    run(
        scratch,
        """INSERT INTO billing.invoices (id, org_id, account_id, number, status, currency, subtotal, total,
                                         amount_due, amount_paid, amount_credited, finalized_at, paid_at)
           VALUES ($1, $2, $3, 'T-000001', 'paid', 'EUR', 1000, 1000, 1000, 1000, 300, now(), now())""",
        ids["invoice"], ids["org"], ids["account"],
    )  # fmt: skip
    noted = charge(scratch, ids, "credit", -300)
    issued = note(scratch, ids, "T-CN-1", 300, noted, void=False)
    voided_charge = charge(scratch, ids, "credit", -100)
    note(scratch, ids, "T-CN-2", 100, voided_charge, void=True)
    offset = charge(scratch, ids, "credit", 100)  # the voided note's offset: the pair stays
    carried = charge(scratch, ids, "credit", -50)
    invoiced = charge(scratch, ids, "credit", -70, invoice=True)
    proration = charge(scratch, ids, "proration", -20)

    migrate.upgrade(scratch, AFTER)
    grants = run(scratch, "SELECT id, amount, category, source_type, source_id FROM billing.credit_grants")
    assert {tuple(g) for g in grants} == {
        (noted, 300, "paid", "credit_note", issued),
        (carried, 50, "paid", "pending_charge", carried),
    }
    ledger = run(scratch, "SELECT grant_id, kind, amount FROM billing.credit_transactions")
    assert {tuple(t) for t in ledger} == {(noted, "grant", 300), (carried, "grant", 50)}
    left = run(scratch, "SELECT id FROM billing.pending_charges")
    assert {r["id"] for r in left} == {voided_charge, offset, invoiced, proration}
    linked = run(scratch, "SELECT pending_charge_id FROM billing.credit_notes WHERE id = $1", issued)
    assert linked[0]["pending_charge_id"] is None

    # an invoice used 30 of the carried credit; the rest goes back as it came
    run(
        scratch,
        """INSERT INTO billing.credit_transactions (id, grant_id, org_id, kind, amount, invoice_id)
           VALUES (gen_random_uuid(), $1, $2, 'applied', -30, $3)""",
        carried, ids["org"], ids["invoice"],
    )  # fmt: skip
    migrate.downgrade(scratch, BEFORE)
    back = run(
        scratch,
        "SELECT id, kind, amount, invoice_id FROM billing.pending_charges WHERE id = ANY($1)",
        [noted, carried],
    )
    assert {tuple(r) for r in back} == {(noted, "credit", -300, None), (carried, "credit", -20, None)}
    relinked = run(scratch, "SELECT pending_charge_id FROM billing.credit_notes WHERE id = $1", issued)
    assert relinked[0]["pending_charge_id"] == noted
    assert len(run(scratch, "SELECT id FROM billing.pending_charges")) == 6
