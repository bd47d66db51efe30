"""Periods, schedules and aggregation: the pure logic under materialization and ingestion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from modules.entitlements.services import aggregation, schedule
from modules.entitlements.services.aggregation import UsageState
from modules.entitlements.services.periods import EPOCH, Cycle, Period, add_months, period_of
from modules.entitlements.services.schedule import Window


def t(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reset", "at", "expected"),
    [
        ("none", t(2026, 5, 5), Period(EPOCH, None)),
        ("day", t(2026, 5, 5, 23, 59, 59), Period(t(2026, 5, 5), t(2026, 5, 6))),
        ("day", t(2026, 5, 6), Period(t(2026, 5, 6), t(2026, 5, 7))),
        ("week", t(2026, 11, 22, 12), Period(t(2026, 11, 16), t(2026, 11, 23))),  # a Sunday
        ("week", t(2026, 11, 23), Period(t(2026, 11, 23), t(2026, 11, 30))),  # a Monday
        ("month", t(2026, 12, 31, 23, 59, 59, 999999), Period(t(2026, 12, 1), t(2027, 1, 1))),
        ("month", t(2027, 1, 1), Period(t(2027, 1, 1), t(2027, 2, 1))),
        ("year", t(2028, 2, 29, 8), Period(t(2028, 1, 1), t(2029, 1, 1))),
    ],
)
def test_calendar_periods(reset: str, at: datetime, expected: Period) -> None:
    assert period_of(reset, at) == expected


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(t(2026, 1, 31, 10), 1) == t(2026, 2, 28, 10)
    assert add_months(t(2026, 1, 31, 10), 2) == t(2026, 3, 31, 10)
    assert add_months(t(2028, 1, 31), 1) == t(2028, 2, 29)
    assert add_months(t(2026, 3, 15), -3) == t(2025, 12, 15)


def test_billing_cycle_periods_follow_the_anchor() -> None:
    cycle = Cycle(t(2026, 1, 31, 10), "month", 1)
    assert period_of("billing_period", t(2026, 2, 28, 9), cycle) == Period(
        t(2026, 1, 31, 10), t(2026, 2, 28, 10)
    )
    assert period_of("billing_period", t(2026, 2, 28, 10), cycle) == Period(
        t(2026, 2, 28, 10), t(2026, 3, 31, 10)
    )
    assert period_of("billing_period", t(2026, 1, 1), cycle) == Period(
        t(2025, 12, 31, 10), t(2026, 1, 31, 10)
    )
    quarterly = Cycle(t(2026, 1, 15), "month", 3)
    assert period_of("billing_period", t(2026, 5, 1), quarterly) == Period(t(2026, 4, 15), t(2026, 7, 15))
    weekly = Cycle(t(2026, 1, 1, 12), "week", 2)
    assert period_of("billing_period", t(2026, 1, 20), weekly) == Period(
        t(2026, 1, 15, 12), t(2026, 1, 29, 12)
    )
    yearly = Cycle(t(2024, 2, 29), "year", 1)
    assert period_of("billing_period", t(2025, 3, 1), yearly) == Period(t(2025, 2, 28), t(2026, 2, 28))
    with pytest.raises(ValueError, match="billing cycle"):
        period_of("billing_period", t(2026, 1, 1))


def test_schedule_sums_overlapping_windows_and_keeps_future_changes() -> None:
    now = t(2026, 1, 10)
    windows = [
        Window(t(2026, 1, 1), None, Decimal(100)),
        Window(t(2026, 1, 5), t(2026, 1, 20), Decimal(50)),
        Window(t(2026, 2, 1), t(2026, 3, 1), Decimal(10)),
        Window(t(2025, 1, 1), t(2025, 6, 1), Decimal(999)),  # over: never shown
    ]
    segs = schedule.build(windows, now, schedule.sum_limits)
    assert [(s.start, s.end, s.limit) for s in segs] == [
        (t(2026, 1, 5), t(2026, 1, 20), Decimal(150)),
        (t(2026, 1, 20), t(2026, 2, 1), Decimal(100)),
        (t(2026, 2, 1), t(2026, 3, 1), Decimal(110)),
        (t(2026, 3, 1), None, Decimal(100)),
    ]
    assert schedule.at(segs, now).limit == Decimal(150)  # type: ignore[union-attr]
    assert schedule.at(segs, t(2026, 1, 20)).limit == Decimal(100)  # type: ignore[union-attr]
    assert schedule.next_change(segs, now) == t(2026, 1, 20)
    assert schedule.decode(schedule.to_json(segs)) == segs


def test_schedule_gaps_mean_not_entitled_and_config_values_take_the_latest_start() -> None:
    now = t(2026, 1, 1)
    segs = schedule.build(
        [
            Window(t(2026, 1, 1), t(2026, 1, 2), {"tier": "a"}, (1,)),
            Window(t(2026, 1, 1, 12), t(2026, 1, 3), {"tier": "b"}, (2,)),
            Window(t(2026, 1, 5), t(2026, 1, 6), {"tier": "b"}, (3,)),
        ],
        now,
        schedule.latest_value,
    )
    assert schedule.at(segs, t(2026, 1, 1, 6)).value == {"tier": "a"}  # type: ignore[union-attr]
    assert schedule.at(segs, t(2026, 1, 1, 13)).value == {"tier": "b"}  # type: ignore[union-attr]
    assert schedule.at(segs, t(2026, 1, 4)) is None
    assert schedule.at(segs, t(2026, 1, 6)) is None


@pytest.mark.parametrize(
    ("method", "quantities", "used"),
    [
        ("SUM", [3, 4, 5], 12),
        ("COUNT", [3, 4, 5], 3),
        ("AVERAGE", [3, 4, 5], 4),
        ("MAX", [3, 9, 5], 9),
        ("MIN", [3, 1, 5], 1),
        ("LATEST", [3, 1, 5], 5),
    ],
)
def test_aggregation_methods(method: str, quantities: list[int], used: int) -> None:
    state = UsageState()
    for i, q in enumerate(quantities):
        state = aggregation.apply(method, state, Decimal(q), t(2026, 1, 1) + timedelta(minutes=i))
    assert state.used == Decimal(used)
    assert state.event_count == len(quantities)
    assert state.sum_quantity == sum(Decimal(q) for q in quantities)


def test_latest_ignores_an_event_that_occurred_before_the_last_one() -> None:
    state = aggregation.apply("LATEST", UsageState(), Decimal(7), t(2026, 1, 2))
    state = aggregation.apply("LATEST", state, Decimal(1), t(2026, 1, 1))
    assert state.used == Decimal(7)
    assert state.last_occurred_at == t(2026, 1, 2)
