"""Pricing a usage quantity (Decimal) with a metered price: per unit, graduated and volume
tiers, rounded once half-to-even; unit examples and hypothesis properties. Pure, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modules.billing.contracts import Tier
from modules.billing.services.metered_pricing import exact_amount, tier_parts, usage_amount, volume_tier
from modules.billing.services.money import amount_for

TIERS = [
    Tier(up_to=100, unit_amount=10, flat_amount=0),
    Tier(up_to=1000, unit_amount=5, flat_amount=200),
    Tier(up_to=None, unit_amount=1, flat_amount=0),
]


def graduated(q: str) -> int:
    return usage_amount(Decimal(q), unit_amount=None, tiers=TIERS, tiers_mode="graduated")


def volume(q: str) -> int:
    return usage_amount(Decimal(q), unit_amount=None, tiers=TIERS, tiers_mode="volume")


def test_per_unit_rounds_fractional_units_half_to_even_once() -> None:
    assert usage_amount(Decimal("1500"), unit_amount=2, tiers=None, tiers_mode=None) == 3000
    assert usage_amount(Decimal("2.25"), unit_amount=10, tiers=None, tiers_mode=None) == 22  # 22.5 -> 22
    assert usage_amount(Decimal("2.35"), unit_amount=10, tiers=None, tiers_mode=None) == 24  # 23.5 -> 24
    assert usage_amount(Decimal("0.0001"), unit_amount=3, tiers=None, tiers_mode=None) == 0


def test_graduated_charges_each_tier_its_own_price_and_flat_amount() -> None:
    assert graduated("0") == 0  # no usage, no flat amount
    assert graduated("100") == 1000
    assert graduated("101") == 1000 + 5 + 200  # the second tier's flat amount once reached
    assert graduated("1500") == 1000 + 900 * 5 + 200 + 500
    assert graduated("100.5") == 1000 + 202  # 2.5 + 200 = 202.5 -> 202 (half-to-even, once)


def test_volume_charges_every_unit_at_the_tier_the_quantity_falls_in() -> None:
    assert volume("100") == 1000
    assert volume("100.5") == 702  # 100.5 x 5 + 200 = 702.5 -> 702
    assert volume("1500") == 1500
    assert volume_tier(Decimal("1000"), TIERS) == TIERS[1]


def test_tiers_not_reached_are_left_out() -> None:
    assert tier_parts(Decimal("50"), TIERS) == [(TIERS[0], Decimal("50"))]
    assert tier_parts(Decimal("0"), TIERS) == []


@pytest.mark.parametrize("mode", ["graduated", "volume"])
def test_negative_quantities_cost_nothing(mode: str) -> None:
    assert exact_amount(Decimal("-5"), unit_amount=None, tiers=TIERS, tiers_mode=mode) == 0


AMOUNT = st.integers(0, 10_000)
QUANTITY = st.decimals(min_value=0, max_value=10**7, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def tier_lists(draw: st.DrawFn) -> list[Tier]:
    bounds = sorted(set(draw(st.lists(st.integers(1, 10**6), min_size=0, max_size=4))))
    return [Tier(up_to=b, unit_amount=draw(AMOUNT), flat_amount=draw(AMOUNT)) for b in [*bounds, None]]


@given(tier_lists(), QUANTITY)
def test_graduated_total_is_the_sum_over_the_tiers(tiers: list[Tier], q: Decimal) -> None:
    parts = tier_parts(q, tiers)
    assert sum(units for _, units in parts) == q
    floor = Decimal(0)
    for tier, units in parts:  # each tier holds at most its own width
        assert tier.up_to is None or floor + units <= tier.up_to
        floor += units
    expected = sum((units * t.unit_amount + t.flat_amount for t, units in parts), Decimal(0))
    assert exact_amount(q, unit_amount=None, tiers=tiers, tiers_mode="graduated") == (
        expected if q > 0 else 0
    )


@given(tier_lists(), QUANTITY)
def test_volume_total_is_every_unit_at_one_tiers_price(tiers: list[Tier], q: Decimal) -> None:
    tier = volume_tier(q, tiers)
    assert tier.up_to is None or q <= tier.up_to
    lower = [t for t in tiers if t.up_to is not None and t.up_to < q]
    assert tiers.index(tier) == len(lower)  # the first tier whose bound the quantity does not pass
    total = exact_amount(q, unit_amount=None, tiers=tiers, tiers_mode="volume")
    assert total == (q * tier.unit_amount + tier.flat_amount if q > 0 else 0)


@given(tier_lists(), st.integers(0, 10**7), st.sampled_from(["graduated", "volume"]))
def test_whole_quantities_price_as_licensed_quantities_do(tiers: list[Tier], q: int, mode: str) -> None:
    assert usage_amount(Decimal(q), unit_amount=None, tiers=tiers, tiers_mode=mode) == amount_for(
        q, unit_amount=None, tiers=tiers, tiers_mode=mode
    )


@given(QUANTITY, AMOUNT)
def test_per_unit_is_the_exact_product_rounded_once(q: Decimal, unit: int) -> None:
    amount = usage_amount(q, unit_amount=unit, tiers=None, tiers_mode=None)
    assert abs(Decimal(amount) - q * unit) <= Decimal("0.5")
