"""Money as documents show it: minor units in the currency's major unit, per ISO 4217's exponent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modules.billing.services.money_format import currency_exponent, format_amount, format_money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (0, "EUR", "0.00 EUR"),
        (1, "EUR", "0.01 EUR"),
        (1999, "EUR", "19.99 EUR"),
        (-1999, "EUR", "-19.99 EUR"),
        (-5, "USD", "-0.05 USD"),
        (123456789, "USD", "1,234,567.89 USD"),
        (1000, "JPY", "1,000 JPY"),
        (-7, "JPY", "-7 JPY"),
        (1250, "KWD", "1.250 KWD"),
        (1, "BHD", "0.001 BHD"),
        (12345, "CLF", "1.2345 CLF"),
        (100, "eur", "1.00 EUR"),
        (150, "XYZ", "1.50 XYZ"),  # an unlisted code has two decimals
    ],
)
def test_amounts_are_written_in_the_major_unit(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_exponents_follow_iso_4217() -> None:
    assert [currency_exponent(c) for c in ("JPY", "KRW", "EUR", "GBP", "BHD", "KWD", "TND", "UYW")] == [
        0, 0, 2, 2, 3, 3, 3, 4,
    ]  # fmt: skip


@given(
    amount=st.integers(min_value=-(10**18), max_value=10**18),
    currency=st.sampled_from(["EUR", "JPY", "KWD", "CLF", "USD"]),
)
def test_the_written_amount_is_exactly_the_minor_units(amount: int, currency: str) -> None:
    written = format_amount(amount, currency)
    assert Decimal(written.replace(",", "")) * 10 ** currency_exponent(currency) == amount
    assert written.startswith("-") == (amount < 0)
