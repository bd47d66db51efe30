"""Decimal input: what a client may send where a `Decimal` is read, stated once for the decoder
and for the OpenAPI document.

msgspec reads a `Decimal` from any string `decimal.Decimal()` takes: "NaN", "Infinity",
" 1 ", "1_000", Arabic-Indic digits. A request field typed with a `JSONDecimal` subclass is
read only from a plain decimal string matching the class's `pattern` (no exponent, no leading
zeros) or from a JSON number, exactly, within the class's bounds; anything else is refused
while the body is decoded (400 naming the field). A subclass states its bounds as class
keywords: `class Quantity(JSONDecimal, minimum="0", below="1e15")`.

JSON numbers stay exact: msgspec hands a custom type a parsed float, so the decoder's
`float_hook` (`number_text`) keeps the number's text for `from_json` (see
`platform_core.http.body_decoder`).

The values decoded are plain `Decimal`s (msgspec encodes no subclass of it, and events and
responses carry these values on): a `JSONDecimal` class is the rules for a field, and counts
every plain `Decimal` as its instance, which is what msgspec checks `from_json`'s answer by."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

_last_number = threading.local()


def number_text(text: str) -> float:
    """msgspec's `float_hook`: keep the text of the JSON number being decoded (read by
    `from_json` right after, for a decimal field), and answer the float everywhere else."""
    _last_number.text = text
    return float(text)


def _pattern(negative: bool, positive: bool, integer_digits: int | None, places: int | None = None) -> str:
    more = "*" if integer_digits is None else f"{{0,{integer_digits - 1}}}"
    if positive:  # a non-zero digit somewhere
        return rf"^([1-9][0-9]{more}(\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*)$"
    sign = "-?" if negative else ""
    fraction = "+" if places is None else f"{{1,{places}}}"
    return rf"^{sign}(0|[1-9][0-9]{more})(\.[0-9]{fraction})?$"


class _Rules(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        return type(instance) is Decimal or super().__instancecheck__(instance)


class JSONDecimal(Decimal, metaclass=_Rules):
    """A decimal read from JSON as a decimal string or a JSON number (see the module)."""

    __slots__ = ()
    minimum: ClassVar[Decimal | None] = None  # inclusive
    positive: ClassVar[bool] = False  # above 0
    below: ClassVar[Decimal | None] = None  # exclusive; a power of ten
    # at most this many decimals: a string then, since a JSON number with a fraction is a float
    # whose text may not be what the client meant (the number form takes integers only)
    places: ClassVar[int | None] = None
    pattern: ClassVar[str] = _pattern(True, False, None)
    _match: ClassVar[Callable[[str], re.Match[str] | None]] = re.compile(pattern).match

    def __init_subclass__(
        cls,
        *,
        minimum: str | None = None,
        positive: bool = False,
        below: str | None = None,
        places: int | None = None,
    ) -> None:
        if places is not None and (positive or places < 1):
            raise ValueError("`places` is 1 or more, for a type that allows 0")
        cls.places = places
        cls.minimum = Decimal(minimum) if minimum is not None else None
        cls.positive = positive
        cls.below = Decimal(below) if below is not None else None
        digits = None
        if cls.below is not None:
            digits = cls.below.adjusted()
            if cls.below != Decimal(10) ** digits or digits < 1:
                raise ValueError("`below` is a power of ten, 10 or more")
        negative = not positive and (cls.minimum is None or cls.minimum < 0)
        if cls.minimum not in (None, Decimal(0)):
            raise ValueError("`minimum` is 0 or absent (a pattern can state no other)")
        cls.pattern = _pattern(negative, positive, digits, places)
        cls._match = re.compile(cls.pattern).match

    @classmethod
    def matches(cls, text: str) -> bool:
        """Whether `text` is a decimal string of this type (a query parameter, say)."""
        # `match`, like msgspec's patterns (and Python's JSON Schema tools): `$` allows one final
        # newline, which `Decimal` ignores too
        return cls._match(text) is not None

    @classmethod
    def from_json(cls, value: Any) -> Decimal:
        """msgspec's `dec_hook` for this type: `value` as the decoder parsed it."""
        kind = type(value)
        if kind is str:
            if cls._match(value) is None:
                raise ValueError(f"Expected a decimal string matching {cls.pattern!r}")
            return Decimal(value)
        if kind is float:
            if cls.places is not None:
                raise TypeError(f"Expected a decimal string (at most {cls.places} decimals) or an integer")
            text = getattr(_last_number, "text", None)
            if text is None or float(text) != value:  # a decoder without `number_text`
                raise TypeError("Expected a decimal string")
            number = Decimal(text)
        elif kind is int:
            number = Decimal(value)
        else:
            raise TypeError(f"Expected a decimal string or a number, got {kind.__name__}")
        if not cls.within(number):
            raise ValueError(f"Expected a number {cls.bounds()}")
        return number

    @classmethod
    def default(cls, text: str) -> Any:
        """A field's default, a plain Decimal like every decoded value."""
        return Decimal(text)

    @classmethod
    def within(cls, number: Decimal) -> bool:
        try:
            return (
                (cls.minimum is None or number >= cls.minimum)
                and (not cls.positive or number > 0)
                and (cls.below is None or number < cls.below)
            )
        except InvalidOperation:
            return False

    @classmethod
    def bounds(cls) -> str:
        terms = [">= 0" if cls.minimum is not None else "", "> 0" if cls.positive else ""]
        terms.append(f"< {cls.below:E}" if cls.below is not None else "")
        return " and ".join(term for term in terms if term) or "(any finite)"

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """As the decoder reads it: a decimal string matching `pattern`, or a bounded number."""
        number: dict[str, Any] = {"type": "number" if cls.places is None else "integer"}
        if cls.positive:
            number["exclusiveMinimum"] = 0
        elif cls.minimum is not None:
            number["minimum"] = int(cls.minimum)
        if cls.below is not None:
            number["exclusiveMaximum"] = int(cls.below)
        return {"anyOf": [{"type": "string", "format": "decimal", "pattern": cls.pattern}, number]}
