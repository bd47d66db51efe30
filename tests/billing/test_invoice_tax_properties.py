"""Property: any draft — random lines (negative ones too), discounts, a random exclusive or
inclusive rate — finalizes on PostgreSQL with each line taxed half-to-even by the pure rule,
tax = the sum of its lines' taxes and total = subtotal - discounts + exclusive tax (the
database's CHECK agrees), and `keel billing reconcile` finds nothing about it. A credit the
draft takes (a `credit` pending charge) is not taxed again."""

from __future__ import annotations

import secrets
import string
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from modules.billing.models import BillingAccount
from modules.billing.services.invoice_drafts import create_draft
from modules.billing.services.invoice_finalize import finalize
from modules.billing.services.invoice_lines import Line
from modules.billing.services.invoices import add_pending_charge
from modules.billing.services.tax_math import line_tax
from modules.reconcile import reconcile
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import ok

AMOUNT = st.integers(-(10**6), 10**6)
LINES = st.lists(
    AMOUNT.flatmap(lambda a: st.tuples(st.just(a), st.integers(0, max(a, 0)))), min_size=1, max_size=8
)
RATE = st.tuples(st.decimals(min_value=0, max_value=Decimal("99.9999"), places=4), st.booleans())


async def move_to_a_new_jurisdiction(
    client: httpx.AsyncClient, shop: Shop, pct: Decimal, inclusive: bool
) -> None:
    state = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(3))
    body: dict[str, Any] = {
        "display_name": "VAT",
        "percentage": str(pct),
        "inclusive": inclusive,
        "country": "DE",
        "state": state,
    }
    await ok(await client.post("/billing/tax-rates", json=body, headers=shop.headers), 201)
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}"
    await ok(
        await client.patch(url, json={"address": {"country": "DE", "state": state}}, headers=shop.headers)
    )


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=LINES, rate=RATE, credit=st.integers(0, 10**5))
async def test_any_draft_finalizes_with_the_sum_of_its_line_taxes(
    shop: Shop, runtime: Runtime, lines: list[tuple[int, int]], rate: tuple[Decimal, bool], credit: int
) -> None:
    pct, inclusive = rate
    await move_to_a_new_jurisdiction(shop.client, shop, pct, inclusive)
    net = sum(a - d for a, d in lines) - credit
    if net < 0:  # a draft's total is never negative (its credit is carried forward when finalized)
        lines = [*lines, (-net, 0)]
    drafted = [
        Line(source="one_off", description=f"line {i}", amount=a, discount_amount=d)
        for i, (a, d) in enumerate(lines)
    ]
    async with runtime.uow() as uow:
        account = await uow.session.get_one(BillingAccount, shop.account)
        if credit:  # a credit waiting for this invoice (as a credit note's or a carried one)
            await add_pending_charge(uow, account, kind="credit", description="Credit", amount=-credit)
        invoice, rows = await create_draft(uow, account, drafted, finalize_at=None)
        dto = await finalize(uow, invoice, account, rows)

    taxed = {line.id: line.tax_amounts for line in dto.lines}
    for line in dto.lines:
        if line.source == "one_off":
            expected = line_tax(line.amount, line.discount_amount, pct, inclusive=inclusive)
            (tax,) = taxed[line.id]
            assert (tax.amount, tax.taxable_amount, tax.inclusive) == (
                expected.amount,
                expected.taxable_amount,
                inclusive,
            )
        else:  # a credit: never taxed again
            assert taxed[line.id] == []
    all_taxes = [t for amounts in taxed.values() for t in amounts]
    assert dto.tax == sum(t.amount for t in all_taxes)
    assert dto.exclusive_tax == (0 if inclusive else dto.tax)
    assert dto.total == dto.subtotal - dto.discount_total + dto.exclusive_tax
    assert [t.amount for t in dto.total_tax_amounts] == ([dto.tax] if all_taxes else [])
    report = await reconcile(runtime)
    assert [v for v in report.violations if str(v.org_id) == shop.org] == []
