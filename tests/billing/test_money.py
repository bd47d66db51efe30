"""Amounts and periods, as pure functions: tiers, proration rounding, month-end clamping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modules.billing.contracts import Tier
from modules.billing.services.money import amount_for, check_tiers, prorate
from modules.billing.services.periods import period_at, shift
from platform_core.core.errors import Unprocessable

TIERS = [
    Tier(up_to=10, unit_amount=500),
    Tier(up_to=50, unit_amount=400, flat_amount=1000),
    Tier(up_to=None, unit_amount=300),
]


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [
        (0, 0, 0),
        (1, 500, 500),
        (10, 5000, 5000),
        (11, 5000 + 400 + 1000, 11 * 400 + 1000),
        (50, 5000 + 40 * 400 + 1000, 50 * 400 + 1000),
        (51, 5000 + 40 * 400 + 1000 + 300, 51 * 300),
    ],
)
def test_tiered_amounts(quantity: int, graduated: int, volume: int) -> None:
    assert amount_for(quantity, unit_amount=None, tiers=TIERS, tiers_mode="graduated") == graduated
    assert amount_for(quantity, unit_amount=None, tiers=TIERS, tiers_mode="volume") == volume
    assert amount_for(quantity, unit_amount=250, tiers=None, tiers_mode=None) == quantity * 250


@pytest.mark.parametrize(
    "tiers",
    [
        [Tier(up_to=10, unit_amount=1)],
        [Tier(up_to=None, unit_amount=1), Tier(up_to=None, unit_amount=1)],
        [Tier(up_to=10, unit_amount=1), Tier(up_to=5, unit_amount=1), Tier(up_to=None, unit_amount=1)],
        [Tier(up_to=0, unit_amount=1), Tier(up_to=None, unit_amount=1)],
    ],
)
def test_malformed_tiers_are_refused(tiers: list[Tier]) -> None:
    with pytest.raises(Unprocessable):
        check_tiers(tiers)


def test_proration_is_to_the_second_and_rounds_half_to_even() -> None:
    month = timedelta(days=30)
    assert prorate(3000, timedelta(days=20), month) == 2000
    assert prorate(5000, timedelta(days=20), month) == 3333
    assert prorate(3, timedelta(days=15), month) == 2  # 1.5 -> 2
    assert prorate(5, timedelta(days=15), month) == 2  # 2.5 -> 2 (half to even)
    assert prorate(1000, timedelta(0), month) == 0
    assert prorate(1000, timedelta(seconds=-5), month) == 0


def test_months_clamp_to_their_last_day_without_drifting() -> None:
    anchor = datetime(2028, 1, 31, 9, 30, tzinfo=UTC)
    assert [shift(anchor, "month", n).date().isoformat() for n in range(1, 5)] == [
        "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31",
    ]  # fmt: skip
    assert shift(datetime(2028, 2, 29, tzinfo=UTC), "year", 1).date().isoformat() == "2029-02-28"
    assert shift(anchor, "week", 2) == anchor + timedelta(weeks=2)
    assert period_at(anchor, "month", 1, datetime(2028, 3, 15, tzinfo=UTC)) == (
        datetime(2028, 2, 29, 9, 30, tzinfo=UTC), datetime(2028, 3, 31, 9, 30, tzinfo=UTC),
    )  # fmt: skip
    assert period_at(anchor, "month", 3, anchor) == (anchor, datetime(2028, 4, 30, 9, 30, tzinfo=UTC))
