"""Tax arithmetic, pure: which rate a customer pays and how much tax a line carries.

Rounding is stated once and used everywhere: each LINE's tax is rounded to the minor unit,
half-to-even (banker's rounding, exact rational arithmetic, no float); an invoice's tax per
rate is the SUM of its lines' taxes, never recomputed on the summed amounts.

- exclusive rate: tax = round_half_even(taxable x pct / 100); the tax is added to the total;
- inclusive rate: the amount already contains the tax:
  tax = round_half_even(amount - amount / (1 + pct/100)) = round_half_even(amount x pct / (100 + pct));
  the line's `taxable_amount` is then the amount without the tax (amount - tax), as Stripe shows it;
- the taxable amount of a line is its amount less its discount (`amount - discount_amount`);
- negative lines (prorations, credits) are taxed negative: half-to-even is symmetric, so the
  tax of -x is minus the tax of x.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

# The EU's member states (ISO 3166-1 alpha-2; Greece is GR here, EL only in VAT numbers).
EU_COUNTRIES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})  # fmt: skip
EU_VAT = "eu_vat"


def round_half_even(value: Fraction) -> int:
    """`value` to the nearest integer, ties to the even one (Fraction's own rounding)."""
    return round(value)


def plain_percentage(value: Decimal) -> Decimal:
    """A stored percentage (numeric(6,4): `7.2500`) as written: `7.25`, `20`, never `2E+1`."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


@dataclass(frozen=True)
class LineTax:
    """The tax of one line: `taxable_amount` (without the tax), `amount` (the tax)."""

    taxable_amount: int
    amount: int


def line_tax(amount: int, discount_amount: int, percentage: Decimal, *, inclusive: bool) -> LineTax:
    """The tax of a line of `amount` less `discount_amount` at `percentage` (0 <= p < 100),
    rounded half-to-even to the minor unit (see the module)."""
    taxable = amount - discount_amount
    pct = Fraction(percentage)
    if inclusive:
        tax = round_half_even(taxable * pct / (100 + pct))
        return LineTax(taxable_amount=taxable - tax, amount=tax)
    return LineTax(taxable_amount=taxable, amount=round_half_even(taxable * pct / 100))


@dataclass(frozen=True)
class Customer:
    """What decides a customer's tax: its country (and state), and the country of its VERIFIED
    EU VAT id (None: none), which only an operator marks verified (`"verified": true`)."""

    country: str | None
    state: str | None
    vat_country: str | None = None


def _vat_country(tax_id: dict[str, object]) -> str | None:
    """The member state of a verified `eu_vat` id, from its prefix (Greece's EL is GR)."""
    value = tax_id.get("value")
    if tax_id.get("type") != EU_VAT or tax_id.get("verified") is not True or not isinstance(value, str):
        return None
    prefix = value.strip()[:2].upper()
    return "GR" if prefix == "EL" else prefix if prefix in EU_COUNTRIES else None


def customer_of(address: dict[str, object] | None, tax_ids: Iterable[dict[str, object]]) -> Customer:
    """A billing account's `address.country` / `address.state` (upper-cased codes) and the
    member state of its first verified `eu_vat` tax id."""
    country = (address or {}).get("country")
    state = (address or {}).get("state")
    return Customer(
        country=country.strip().upper() or None if isinstance(country, str) else None,
        state=state.strip().upper() or None if isinstance(state, str) else None,
        vat_country=next((c for t in tax_ids if (c := _vat_country(t)) is not None), None),
    )


def reverse_charged(customer: Customer, issuer_country: str) -> bool:
    """EU reverse charge: a business customer of another member state than the issuer's (the
    issuer itself in the EU) pays no tax; the customer accounts for it. Business and member
    state are proven by a verified `eu_vat` id of the customer's own country (its address):
    a VAT id of another country than the address proves nothing, and the address is taxed."""
    return (
        customer.vat_country is not None
        and customer.vat_country == customer.country
        and issuer_country in EU_COUNTRIES
        and customer.country != issuer_country
    )


def unverified_claims(before: Iterable[dict[str, object]], after: Iterable[dict[str, object]]) -> bool:
    """Whether `after` marks a tax id `verified` that `before` did not hold verified as it is:
    only operators verify tax ids (anyone may keep one unchanged, or drop it)."""

    def key(t: dict[str, object]) -> tuple[str, str, object]:
        return (str(t.get("type")), str(t.get("value")), t.get("verified"))

    held = {key(t) for t in before if "verified" in t}
    return any(key(t) not in held for t in after if "verified" in t)


@dataclass(frozen=True)
class Rate:
    """What a tax rate is to the arithmetic: its id, where it applies, how much, how."""

    id: uuid.UUID
    country: str
    state: str | None
    percentage: Decimal
    inclusive: bool


def rate_for(customer: Customer, rates: Sequence[Rate]) -> Rate | None:
    """The active rate of the customer's country and state, else of its country as a whole
    (a rate with no state); none when the customer has no country or its country no rate.
    `rates` are active rates; there is at most one per (country, state)."""
    if customer.country is None:
        return None
    in_country = [r for r in rates if r.country == customer.country]
    if customer.state is not None:
        for rate in in_country:
            if rate.state == customer.state:
                return rate
    return next((r for r in in_country if r.state is None), None)


@dataclass(frozen=True)
class InvoiceTaxTotals:
    """An invoice's tax figures from its lines' taxes: all tax, its exclusive part, and the
    total = subtotal - discounts + exclusive tax."""

    subtotal: int
    discount_total: int
    tax: int
    exclusive_tax: int

    @property
    def total(self) -> int:
        return self.subtotal - self.discount_total + self.exclusive_tax


def invoice_totals(lines: Iterable[tuple[int, int]], taxes: Iterable[tuple[int, bool]]) -> InvoiceTaxTotals:
    """`lines`: (amount, discount_amount) of every line; `taxes`: (tax amount, inclusive) of
    every taxed line. Sums only: no tax is recomputed here."""
    amounts = list(lines)
    taxed = list(taxes)
    return InvoiceTaxTotals(
        subtotal=sum(a for a, _ in amounts),
        discount_total=sum(d for _, d in amounts),
        tax=sum(t for t, _ in taxed),
        exclusive_tax=sum(t for t, inclusive in taxed if not inclusive),
    )


def credit_tax_share(already: int, credited: int, gross: int, tax: int) -> int:
    """The tax inside a credit of `credited` on something worth `gross` (tax included) that
    carries `tax`, after `already` was credited on it: credit notes are tax-inclusive, and give
    back the tax proportionally, rounded half-to-even CUMULATIVELY (the share of all credited
    so far minus the share of what was credited before), so credits that add up to `gross`
    give back exactly `tax`, however they are split. 0 when `gross` is 0."""
    if gross == 0:
        return 0
    return round_half_even(Fraction((already + credited) * tax, gross)) - round_half_even(
        Fraction(already * tax, gross)
    )
