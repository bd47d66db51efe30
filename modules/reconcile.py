"""`keel billing reconcile`: billing's money invariants over every account; exit 1 naming each
violation.

It lives at the composition root because two of its invariants are not billing's to read:
patronage is cooperative's table and the audit log is audit's, and both modules sit above
billing in the import chain (billing may read neither; they may read `billing.api`). So each
module checks what it owns — billing its refunds and invoice totals, cooperative its patronage
against `billing.api.account_nets`, audit its log against `billing.api.money_documents` — and
this command, which alone sees all three, runs them in one REPEATABLE READ snapshot, so money
moving while it runs cannot make the figures disagree."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click
import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from modules.audit import api as audit_api
from modules.billing import api as billing_api
from modules.billing.contracts import Violation
from modules.cooperative import api as cooperative_api
from platform_core.cli.support import with_runtime
from platform_core.runtime.runtime import Runtime

Check = Callable[[AsyncSession], Awaitable[list[Violation]]]
CHECKS: tuple[Check, ...] = (
    billing_api.check_invariants,
    cooperative_api.check_patronage,
    audit_api.check_billing_documents,
)
_READ_ONLY = text("SET TRANSACTION READ ONLY")


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    violations: list[Violation]


async def reconcile(runtime: Runtime) -> ReconcileReport:
    """Every check, in one read-only snapshot."""
    async with runtime.sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        await session.execute(_READ_ONLY)
        violations = [v for check in CHECKS for v in await check(session)]
        await session.rollback()
    return ReconcileReport(ok=not violations, violations=violations)


@click.group("billing", help="Billing tools.")
def billing_group() -> None:
    pass


@billing_group.command("reconcile")
def reconcile_command() -> None:
    """Check billing's invariants over every account: refunds + credit note refunds + lost
    disputes within what each invoice was paid; invoice totals from their lines; patronage =
    paid - refunded - credited - lost disputes per account; approved patronage allocations add
    up to their surplus and still match their year's patronage; every payment, refund, credit
    note and dispute audited exactly once. Prints a JSON report; exits 1 on any violation,
    each also named on stderr."""

    async def run(runtime: Any) -> ReconcileReport:
        return await reconcile(runtime)

    report = with_runtime(run)
    for v in report.violations:
        click.echo(f"VIOLATION {v.invariant} {v.subject_type} {v.subject_id}: {v.detail}", err=True)
    click.echo(msgspec.json.encode(report).decode())
    sys.exit(0 if report.ok else 1)
