"""Plan-change proration, pure: to the second, half-to-even, one line per side."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from modules.billing.services.plan_change_math import Side, item_prorations

START = datetime(2031, 4, 1, 12, tzinfo=UTC)
END = datetime(2031, 5, 1, 12, tzinfo=UTC)  # 2,592,000 s
ITEM = uuid.uuid4()
BASIC, PRO = uuid.uuid4(), uuid.uuid4()


def lines(was: Side | None, becomes: Side | None, at: datetime) -> list[tuple[str, int]]:
    return [
        (line.description.split(" ")[0], line.amount)
        for line in item_prorations(ITEM, was, becomes, period=(START, END), at=at, currency="EUR")
    ]


def test_an_upgrade_credits_the_old_and_charges_the_new_half_to_even() -> None:
    # 1,727,568 s left = 666.5 of 1000 (to even: 666) and 1999.5 of 3000 (to even: 2000)
    at = END - timedelta(seconds=1_727_568)
    assert lines(Side(BASIC, 1, 1000), Side(PRO, 1, 3000), at) == [("Unused", -666), ("Remaining", 2000)]


def test_one_second_more_or_less_moves_the_amounts() -> None:
    at = END - timedelta(seconds=1_727_569)  # 666.5003... and 1999.5011...
    assert lines(Side(BASIC, 1, 1000), Side(PRO, 1, 3000), at) == [("Unused", -667), ("Remaining", 2000)]


def test_a_new_item_is_only_charged_and_a_removed_one_only_credited() -> None:
    half = START + (END - START) / 2
    assert lines(None, Side(PRO, 2, 6000), half) == [("Remaining", 3000)]
    assert lines(Side(BASIC, 1, 1000), None, half) == [("Unused", -500)]


def test_nothing_for_no_change_a_metered_side_or_the_period_end() -> None:
    assert lines(Side(BASIC, 3, 3000), Side(BASIC, 3, 3000), START) == []
    assert lines(None, None, START) == []
    assert lines(Side(BASIC, 1, 1000), Side(PRO, 1, 3000), END) == []


def test_the_whole_period_prorates_the_whole_amounts() -> None:
    assert lines(Side(BASIC, 1, 1000), Side(PRO, 1, 3000), START) == [("Unused", -1000), ("Remaining", 3000)]
