"""Burn order, as a pure function: which grants pay how much of an invoice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from modules.billing.services.credit_burn import GrantBalance, PayableLine, burn, burn_order

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AT = T0 + timedelta(days=30)
PRICE_A, PRICE_B = uuid.UUID(int=0xA), uuid.UUID(int=0xB)


def grant(
    remaining: int,
    *,
    priority: int = 50,
    expires_in: int | None = None,
    age: int = 10,
    currency: str = "EUR",
    effective_in: int = -20,
    applies_to: frozenset[uuid.UUID] = frozenset(),
) -> GrantBalance:
    return GrantBalance(
        id=uuid.uuid4(),
        currency=currency,
        remaining=remaining,
        priority=priority,
        effective_at=AT + timedelta(days=effective_in),
        expires_at=None if expires_in is None else AT + timedelta(days=expires_in),
        created_at=AT - timedelta(days=age),
        applies_to=applies_to,
    )


def run(
    grants: list[GrantBalance], total: int, lines: list[PayableLine] | None = None
) -> list[tuple[uuid.UUID, int]]:
    return burn(
        grants, lines or [PayableLine(price_id=None, amount=total)], currency="EUR", total=total, at=AT
    )


def test_priority_first_then_soonest_expiry_then_oldest() -> None:
    late_priority = grant(100, priority=60, expires_in=1)
    never_expires = grant(100, age=90)
    expires_later = grant(100, expires_in=20)
    expires_soon_young = grant(100, expires_in=5, age=1)
    expires_soon_old = grant(100, expires_in=5, age=50)
    first = grant(100, priority=0)
    shuffled = [late_priority, never_expires, expires_later, expires_soon_young, first, expires_soon_old]
    assert burn_order(shuffled) == [
        first, expires_soon_old, expires_soon_young, expires_later, never_expires, late_priority,
    ]  # fmt: skip


def test_grants_pay_in_burn_order_and_never_more_than_the_total() -> None:
    a, b, c = grant(300, priority=10), grant(500, priority=20), grant(1000, priority=30)
    assert run([c, b, a], 650) == [(a.id, 300), (b.id, 350)]
    assert run([c, b, a], 5000) == [(a.id, 300), (b.id, 500), (c.id, 1000)]
    assert run([a], 0) == []
    assert run([a], -100) == []


def test_only_grants_effective_unexpired_and_in_the_currency_take_part() -> None:
    future = grant(100, effective_in=1)
    expired = grant(100, expires_in=0)  # expiring exactly at finalization: already gone
    dollars = grant(100, currency="USD")
    empty = grant(0)
    ok = grant(100, expires_in=1)
    assert run([future, expired, dollars, empty, ok], 1000) == [(ok.id, 100)]


def test_a_grant_restricted_to_prices_pays_only_their_lines() -> None:
    lines = [PayableLine(PRICE_A, 400), PayableLine(PRICE_B, 600), PayableLine(None, 200)]
    only_a = grant(1000, priority=0, applies_to=frozenset({PRICE_A}))
    also_a = grant(1000, priority=1, applies_to=frozenset({PRICE_A}))
    anything = grant(1000, priority=2)
    # A's line is paid once (400), the rest of the 1200 by the unrestricted grant
    assert run([anything, also_a, only_a], 1200, lines) == [(only_a.id, 400), (anything.id, 800)]
    # a restricted grant never pays tax: the total (1300) is above the lines (1200)
    assert run([only_a], 1300, lines) == [(only_a.id, 400)]
    # nor beyond the invoice's total (a negative line, a proration credit, lowers it)
    credited = [*lines, PayableLine(None, -1000)]
    assert run([only_a], 200, credited) == [(only_a.id, 200)]


def test_an_unrestricted_grant_burnt_first_leaves_the_restricted_one_its_lines() -> None:
    lines = [PayableLine(PRICE_A, 100), PayableLine(PRICE_B, 100)]
    anything = grant(100, priority=0)
    only_a = grant(100, priority=1, applies_to=frozenset({PRICE_A}))
    assert run([anything, only_a], 200, lines) == [(anything.id, 100), (only_a.id, 100)]


GRANTS = st.builds(
    grant,
    st.integers(min_value=0, max_value=5000),
    priority=st.integers(min_value=0, max_value=100),
    expires_in=st.one_of(st.none(), st.integers(min_value=-5, max_value=60)),
    age=st.integers(min_value=0, max_value=60),
    currency=st.sampled_from(["EUR", "EUR", "EUR", "USD"]),
    effective_in=st.integers(min_value=-40, max_value=3),
    applies_to=st.sampled_from(
        [frozenset(), frozenset(), frozenset({PRICE_A}), frozenset({PRICE_A, PRICE_B})]
    ),
)
LINES = st.lists(
    st.builds(
        PayableLine, st.sampled_from([None, PRICE_A, PRICE_B]), st.integers(min_value=-2000, max_value=5000)
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(grants=st.lists(GRANTS, max_size=8), lines=LINES, tax=st.integers(min_value=0, max_value=500))
def test_burn_properties(grants: list[GrantBalance], lines: list[PayableLine], tax: int) -> None:
    total = sum(line.amount for line in lines) + tax
    paid = burn(grants, lines, currency="EUR", total=total, at=AT)
    by_id = {g.id: g for g in grants}
    usable = [g for g in grants if g.currency == "EUR" and g.remaining > 0 and g.effective_at <= AT]
    usable = [g for g in usable if g.expires_at is None or g.expires_at > AT]
    # never more than the total, nor than any grant holds; only usable grants, in burn order
    assert sum(amount for _, amount in paid) <= max(total, 0)
    assert all(0 < amount <= by_id[grant_id].remaining for grant_id, amount in paid)
    assert {grant_id for grant_id, _ in paid} <= {g.id for g in usable}
    order = [g.id for g in burn_order(usable)]
    assert [grant_id for grant_id, _ in paid] == [i for i in order if i in dict(paid)]
    # restricted grants together never pay more than their lines
    restricted = sum(amount for grant_id, amount in paid if by_id[grant_id].applies_to)
    assert restricted <= sum(max(line.amount, 0) for line in lines if line.price_id is not None)
    # greedy: an unrestricted grant left with credit means the invoice is paid in full
    for grant_id, amount in paid:
        if not by_id[grant_id].applies_to and amount < by_id[grant_id].remaining:
            assert sum(a for _, a in paid) == max(total, 0)
    # with only unrestricted grants, everything they can pay is paid
    if all(not g.applies_to for g in usable):
        assert sum(amount for _, amount in paid) == min(max(total, 0), sum(g.remaining for g in usable))
