"""Money as a document shows it: integer minor units written in the currency's major unit.

Exact: a minor-unit amount has exactly `exponent` decimals, so nothing is rounded. The format is
the same in every document, whatever the customer's locale: `-` for negative amounts, `,` between
thousands, `.` before the decimals, then the ISO 4217 code (`1,234.56 EUR`, `1,000 JPY`,
`1.250 KWD`)."""

from __future__ import annotations

# ISO 4217 minor units of the currencies whose exponent is not 2 (list 1 of the standard,
# amendment 179): every other code, known or not, has 2 decimals.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
         "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip


def currency_exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (JPY 0, EUR 2, KWD 3; 2 when unlisted)."""
    return _EXPONENTS.get(currency.upper(), 2)


def format_amount(amount: int, currency: str) -> str:
    """`amount` minor units in the major unit, without the code: 123456 EUR -> `1,234.56`."""
    exponent = currency_exponent(currency)
    units, minor = divmod(abs(amount), 10**exponent)
    text = f"{units:,}" if exponent == 0 else f"{units:,}.{minor:0{exponent}d}"
    return f"-{text}" if amount < 0 else text


def format_money(amount: int, currency: str) -> str:
    """`amount` minor units with the currency's code: -1999 EUR -> `-19.99 EUR`."""
    return f"{format_amount(amount, currency)} {currency.upper()}"
