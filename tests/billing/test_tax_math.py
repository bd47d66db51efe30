"""Tax arithmetic (modules/billing/services/tax_math.py): half-to-even per line, then summed;
which rate a customer pays; EU reverse charge. Pure, no database."""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from modules.billing.services.tax_math import (
    Customer,
    Rate,
    customer_of,
    invoice_totals,
    line_tax,
    rate_for,
    reverse_charged,
    unverified_claims,
)


def test_exclusive_tax_is_the_percentage_of_the_amount_rounded_half_to_even() -> None:
    assert line_tax(1000, 0, Decimal("19"), inclusive=False).amount == 190
    assert line_tax(1000, 0, Decimal("19"), inclusive=False).taxable_amount == 1000
    # 25 x 10% = 2.5 -> 2 (even), 35 x 10% = 3.5 -> 4 (even): never always-up
    assert line_tax(25, 0, Decimal("10"), inclusive=False).amount == 2
    assert line_tax(35, 0, Decimal("10"), inclusive=False).amount == 4
    # four decimals are kept exactly: 10000 x 7.1234% = 712.34 -> 712
    assert line_tax(10000, 0, Decimal("7.1234"), inclusive=False).amount == 712


def test_inclusive_tax_is_what_the_amount_contains() -> None:
    # 1190 at 19% inclusive: 1190 - 1190 / 1.19 = 190 exactly
    tax = line_tax(1190, 0, Decimal("19"), inclusive=True)
    assert (tax.amount, tax.taxable_amount) == (190, 1000)
    assert line_tax(105, 0, Decimal("5"), inclusive=True).amount == 5  # 105 x 5 / 105
    assert line_tax(42, 0, Decimal("25"), inclusive=True).amount == 8  # 42 x 25 / 125 = 8.4
    # ties go to the even minor unit: 15 x 20 / 120 = 2.5 -> 2, 27 x 20 / 120 = 4.5 -> 4,
    # 21 x 20 / 120 = 3.5 -> 4
    assert line_tax(15, 0, Decimal("20"), inclusive=True).amount == 2
    assert line_tax(21, 0, Decimal("20"), inclusive=True).amount == 4
    assert line_tax(27, 0, Decimal("20"), inclusive=True).amount == 4  # 4.5 -> 4


def test_the_discount_reduces_the_taxable_amount() -> None:
    tax = line_tax(1000, 200, Decimal("20"), inclusive=False)
    assert (tax.taxable_amount, tax.amount) == (800, 160)
    tax = line_tax(1200, 240, Decimal("20"), inclusive=True)
    assert (tax.taxable_amount, tax.amount) == (800, 160)


def test_negative_lines_are_taxed_negative() -> None:
    assert line_tax(-1000, 0, Decimal("19"), inclusive=False).amount == -190
    assert line_tax(-25, 0, Decimal("10"), inclusive=False).amount == -2  # -2.5 -> -2 (even)
    assert line_tax(-1190, 0, Decimal("19"), inclusive=True).amount == -190


def test_a_zero_rate_taxes_nothing() -> None:
    assert line_tax(999, 0, Decimal("0"), inclusive=False).amount == 0
    assert line_tax(999, 0, Decimal("0"), inclusive=True).amount == 0


def test_the_invoice_tax_is_the_sum_of_rounded_line_taxes_not_the_tax_of_the_sum() -> None:
    # three lines of 5 at 10%: each 0.5 -> 0, so the invoice's tax is 0 (not 1.5 -> 2)
    lines = [(5, 0)] * 3
    taxes = [(line_tax(a, d, Decimal("10"), inclusive=False).amount, False) for a, d in lines]
    totals = invoice_totals(lines, taxes)
    assert (totals.subtotal, totals.tax, totals.exclusive_tax, totals.total) == (15, 0, 0, 15)


def test_only_exclusive_tax_is_added_to_the_total() -> None:
    totals = invoice_totals([(1000, 100), (1190, 0)], [(180, False), (190, True)])
    assert (totals.tax, totals.exclusive_tax) == (370, 180)
    assert totals.total == 1000 + 1190 - 100 + 180


RATES = [
    Rate(id=uuid.uuid4(), country="US", state=None, percentage=Decimal("0"), inclusive=False),
    Rate(id=uuid.uuid4(), country="US", state="CA", percentage=Decimal("7.25"), inclusive=False),
    Rate(id=uuid.uuid4(), country="DE", state=None, percentage=Decimal("19"), inclusive=False),
]


def test_the_rate_of_the_state_wins_over_the_country_s() -> None:
    assert rate_for(Customer(country="US", state="CA"), RATES) is RATES[1]
    assert rate_for(Customer(country="US", state="NY"), RATES) is RATES[0]
    assert rate_for(Customer(country="US", state=None), RATES) is RATES[0]
    assert rate_for(Customer(country="DE", state="BY"), RATES) is RATES[2]


def test_no_country_or_no_rate_for_it_means_no_tax() -> None:
    assert rate_for(Customer(country=None, state=None), RATES) is None
    assert rate_for(Customer(country="FR", state=None), RATES) is None


def test_the_customer_is_read_from_the_account_s_address_and_verified_tax_ids() -> None:
    verified = {"type": "eu_vat", "value": "FR123", "verified": True}
    customer = customer_of(
        {"country": " fr ", "state": "idf"}, [{"type": "gb_vat", "value": "GB1"}, verified]
    )
    assert customer == Customer(country="FR", state="IDF", vat_country="FR")
    assert customer_of(None, []) == Customer(country=None, state=None)
    assert customer_of({"country": 7}, []).country is None
    # only a verified eu_vat id of a member state counts; Greece's VAT prefix EL is GR
    for unproven in (
        {"type": "eu_vat", "value": "FR123"},
        {"type": "eu_vat", "value": "FR123", "verified": "true"},
        {"type": "eu_vat", "value": "XX123", "verified": True},
        {"type": "eu_vat", "value": 123, "verified": True},
        {"type": "gb_vat", "value": "GB123", "verified": True},
    ):
        assert customer_of({"country": "FR"}, [unproven]).vat_country is None, unproven
    assert customer_of({}, [{"type": "eu_vat", "value": "el999", "verified": True}]).vat_country == "GR"


def test_reverse_charge_is_for_verified_eu_businesses_of_another_member_state() -> None:
    business_fr = Customer(country="FR", state=None, vat_country="FR")
    assert reverse_charged(business_fr, "DE")
    assert not reverse_charged(business_fr, "FR")  # same country: the issuer charges its VAT
    assert not reverse_charged(Customer(country="FR", state=None), "DE")  # a consumer
    assert not reverse_charged(business_fr, "GB")  # an issuer outside the EU
    # a VAT id of another country than the address proves nothing about where it is
    assert not reverse_charged(Customer(country="FR", state=None, vat_country="IT"), "DE")
    assert not reverse_charged(Customer(country=None, state=None, vat_country="FR"), "DE")
    assert not reverse_charged(Customer(country="US", state=None, vat_country="FR"), "DE")


def test_only_operators_verify_tax_ids() -> None:
    vat = {"type": "eu_vat", "value": "FR123"}
    verified = {**vat, "verified": True}
    assert unverified_claims([], [verified])  # a claim
    assert unverified_claims([vat], [verified])
    assert unverified_claims([verified], [{**verified, "value": "FR999"}])  # another number
    assert unverified_claims([], [{**vat, "verified": False}])  # the key itself is the operators'
    assert not unverified_claims([verified], [verified, {"type": "eu_vat", "value": "DE1"}])  # kept as it is
    assert not unverified_claims([verified], [])  # dropped
    assert not unverified_claims([], [vat])


PERCENT = st.decimals(min_value=0, max_value=Decimal("99.9999"), places=4)
LINE = st.tuples(st.integers(-(10**9), 10**9), st.integers(0, 10**6), PERCENT, st.booleans())


@settings(max_examples=400, derandomize=True)
@given(st.lists(LINE, max_size=30))
def test_invoice_tax_is_the_sum_of_line_taxes_and_total_adds_exclusive_tax(
    lines: list[tuple[int, int, Decimal, bool]],
) -> None:
    taxes = [line_tax(a, d, p, inclusive=inc) for a, d, p, inc in lines]
    totals = invoice_totals(
        ((a, d) for a, d, _, _ in lines), ((t.amount, inc) for t, (*_, inc) in zip(taxes, lines, strict=True))
    )
    assert totals.tax == sum(t.amount for t in taxes)
    assert totals.exclusive_tax == sum(t.amount for t, (*_, inc) in zip(taxes, lines, strict=True) if not inc)
    assert totals.total == sum(a for a, *_ in lines) - sum(d for _, d, *_ in lines) + totals.exclusive_tax
    for tax, (amount, discount, pct, inclusive) in zip(taxes, lines, strict=True):
        exact = Fraction(amount - discount) * Fraction(pct) / (100 + Fraction(pct) if inclusive else 100)
        assert abs(tax.amount - exact) <= Fraction(1, 2)  # the nearest minor unit
        if abs(tax.amount - exact) == Fraction(1, 2):
            assert tax.amount % 2 == 0  # ties go to the even one
        # the sign follows the line, and -x is taxed as minus the tax of x
        assert line_tax(-amount, -discount, pct, inclusive=inclusive).amount == -tax.amount
        assert tax.taxable_amount == amount - discount - (tax.amount if inclusive else 0)
