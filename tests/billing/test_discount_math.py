"""What a discount takes off lines, as pure functions: percent per line half-to-even, an
amount off spread in proportion by largest remainder (exact, never more than a line, never on
a credit line), and when a repeating discount ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modules.billing.services.discount_math import (
    allocate_amount_off,
    discount_amounts,
    discount_end,
    in_force,
    percent_off,
)


@pytest.mark.parametrize(
    ("amounts", "bp", "expected"),
    [
        ([1999], 2500, [500]),  # 499.75 -> 500
        ([10, 30], 2500, [2, 8]),  # 2.5 -> 2 (half to even), 7.5 -> 8
        ([1000, -300, 0], 5000, [500, 0, 0]),  # a credit line is never discounted
        ([777], 10000, [777]),
    ],
)
def test_percent_off_rounds_each_line_half_to_even(amounts: list[int], bp: int, expected: list[int]) -> None:
    assert percent_off(amounts, bp) == expected


@pytest.mark.parametrize(
    ("amount_off", "amounts", "expected"),
    [
        (500, [300], [300]),  # capped at the line
        (100, [100, 100, 100], [34, 33, 33]),  # 33.33 each: the first of the tied remainders gets the unit
        (100, [1000, 2000], [33, 67]),  # 33.33 / 66.67: the larger remainder gets it
        (1000, [600, -200, 400], [600, 0, 400]),  # only positive lines, capped at their sum
        (250, [0, 0], [0, 0]),
        (7, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]),
    ],
)
def test_amount_off_is_spread_by_largest_remainder(
    amount_off: int, amounts: list[int], expected: list[int]
) -> None:
    assert allocate_amount_off(amount_off, amounts) == expected


@given(
    amount_off=st.integers(min_value=1, max_value=10**12),
    amounts=st.lists(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=30),
)
def test_an_amount_off_is_exact_and_never_more_than_a_line(amount_off: int, amounts: list[int]) -> None:
    shares = allocate_amount_off(amount_off, amounts)
    positive = sum(a for a in amounts if a > 0)
    assert sum(shares) == min(amount_off, positive)
    assert all(0 <= share <= max(a, 0) for share, a in zip(shares, amounts, strict=True))
    # proportional: no line is more than one unit from its exact share
    if positive:
        exact = [min(amount_off, positive) * max(a, 0) / positive for a in amounts]
        assert all(abs(share - e) < 1 for share, e in zip(shares, exact, strict=True))


def test_the_coupon_terms_choose_the_rule() -> None:
    assert discount_amounts([400, 600], percent_off_bp=1000, amount_off=None) == [40, 60]
    assert discount_amounts([400, 600], percent_off_bp=None, amount_off=100) == [40, 60]


def test_a_repeating_discount_ends_after_its_months_and_the_others_never_by_themselves() -> None:
    start = datetime(2031, 1, 31, 12, tzinfo=UTC)
    assert discount_end("repeating", 1, start) == datetime(2031, 2, 28, 12, tzinfo=UTC)  # clamped
    assert discount_end("repeating", 12, start) == datetime(2032, 1, 31, 12, tzinfo=UTC)
    assert discount_end("once", None, start) is None
    assert discount_end("forever", None, start) is None
    end = discount_end("repeating", 2, start)
    assert in_force(start, end, start)
    assert in_force(start, end, datetime(2031, 3, 30, tzinfo=UTC))
    assert not in_force(start, end, datetime(2031, 3, 31, 12, tzinfo=UTC))  # the end is excluded
    assert not in_force(start, None, datetime(2031, 1, 30, tzinfo=UTC))
