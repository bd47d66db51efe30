"""Dividing a surplus, as pure functions: the largest-remainder amounts add up exactly and
each is within one minor unit of its exact share; the fiscal year a late event counts in."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modules.cooperative.services.fiscal_years import first_open_year
from modules.cooperative.services.shares import largest_remainder, share_of


@given(
    surplus=st.integers(min_value=0, max_value=10**15),
    bases=st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=60),
)
def test_the_allocation_sums_exactly_and_no_amount_is_a_unit_off(surplus: int, bases: list[int]) -> None:
    amounts = largest_remainder(surplus, bases)
    assert sum(amounts) == surplus
    total = sum(bases)
    for basis, amount in zip(bases, amounts, strict=True):
        exact = Fraction(surplus * basis, total)
        assert abs(amount - exact) < 1
        assert amount >= 0


@pytest.mark.parametrize(
    ("surplus", "bases", "amounts"),
    [
        (100, [1000, 1000, 1000], [34, 33, 33]),  # ties: the earliest (lowest member number)
        (1001, [700, 550, 800], [342, 268, 391]),  # remainders .80, .56, .63: a then c
        (1, [1, 1], [1, 0]),
        (0, [5, 7], [0, 0]),
        (10, [3], [10]),
        (7, [1, 2, 4], [1, 2, 4]),
    ],
)
def test_awkward_numbers(surplus: int, bases: list[int], amounts: list[int]) -> None:
    assert largest_remainder(surplus, bases) == amounts


def test_nothing_to_divide_among_and_bad_input() -> None:
    assert largest_remainder(100, []) == []
    with pytest.raises(ValueError, match="surplus"):
        largest_remainder(-1, [1])
    with pytest.raises(ValueError, match="basis"):
        largest_remainder(1, [1, 0])


def test_shares_are_rounded_half_to_even_at_twelve_places() -> None:
    assert share_of(1, 3) == Decimal("0.333333333333")
    assert share_of(2, 3) == Decimal("0.666666666667")
    assert share_of(5, 5) == Decimal("1.000000000000")
    # 1/2**13 = 0.0001220703125: the 13th place is a 5 with nothing after it, so to even
    assert share_of(1, 2**13) == Decimal("0.000122070312")
    with pytest.raises(ValueError, match="share"):
        share_of(0, 3)


@pytest.mark.parametrize(
    ("year", "approved", "counts_in"),
    [
        (2026, [], 2026),
        (2026, [2025], 2026),
        (2026, [2026], 2027),
        (2026, [2026, 2027], 2028),
        (2026, [2026, 2028], 2027),
        (2026, [2027], 2026),
    ],
)
def test_an_event_counts_in_the_first_year_not_approved(
    year: int, approved: list[int], counts_in: int
) -> None:
    assert first_open_year(year, approved) == counts_in
