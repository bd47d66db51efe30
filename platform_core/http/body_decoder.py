"""The decoder of one route's JSON body, built once per route (`platform_core.http.strict_signature`).

Strict (`strict=True`: no coercion), with the route's type decoders, and reading the decimal
fields typed with a `platform_core.core.decimals.JSONDecimal` class by that class's
`from_json`; for a body holding one, `float_hook` keeps each JSON number's text so that a
decimal sent as a number stays exact. The decimals decoded are plain `Decimal`s. A whole number
written with a fraction (`2.0`) is read as the integer it is (see `BodyDecoder`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, get_args, get_origin

import msgspec

from platform_core.core.decimals import JSONDecimal, number_text

Hook = Callable[[type, Any], Any]


def _is_decimal(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, JSONDecimal)


def _holds_decimal(kind: Any, seen: set[type]) -> bool:
    if _is_decimal(kind):
        return True
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        if kind in seen:
            return False
        seen.add(kind)
        return any(_holds_decimal(field.type, seen) for field in msgspec.structs.fields(kind))
    origin = get_origin(kind)
    args = get_args(kind)[:1] if origin is Annotated else get_args(kind)
    return origin is not None and any(_holds_decimal(arg, seen) for arg in args)


# msgspec's words for a JSON number with a fraction or an exponent where an integer is declared
_FLOAT_FOR_INT = re.compile(r"Expected `([^`]* \| )?int( \| [^`]*)?`, got `float`")


def _whole_number(text: str) -> Any:
    """`float_hook` of the second reading: a whole number (`2.0`, `1e3`) as an int, any other
    number as its own text, untouched. (Bounded: `1e999999` is no int to compute.)"""
    number = Decimal(text)
    if number.adjusted() < 64 and number == number.to_integral_value():
        return int(number)
    return msgspec.Raw(text.encode())


_WHOLE_NUMBERS_AS_INTS = msgspec.json.Decoder(float_hook=_whole_number)


def whole_numbers_as_ints(body: bytes) -> bytes:
    """`body` with each whole JSON number written as an integer (`2.0` -> `2`)."""
    return msgspec.json.encode(_WHOLE_NUMBERS_AS_INTS.decode(body))


class BodyDecoder:
    """JSON Schema counts `2.0` as the integer 2, so a document saying `integer` allows it;
    msgspec's strict decoding refuses it, and has no hook for `int` fields. So a body refused
    for a float where an int is declared is read once more with its whole numbers written as
    integers (`2.5` is still refused): exact, and free for every body that needs no second
    reading."""

    __slots__ = ("_decode",)

    def __init__(self, target: Any, fallback: Hook) -> None:
        readers: dict[type, Callable[[Any], Any]] = {}  # on the hot path: one lookup per value

        def dec_hook(kind: type, value: Any) -> Any:
            read = readers.get(kind)
            if read is not None:
                return read(value)
            if isinstance(kind, type) and issubclass(kind, JSONDecimal):
                readers[kind] = kind.from_json
                return kind.from_json(value)
            return fallback(kind, value)

        decoder = msgspec.json.Decoder(
            target,
            strict=True,
            dec_hook=dec_hook,
            float_hook=number_text if _holds_decimal(target, set()) else None,
        )
        self._decode: Callable[[bytes], Any] = decoder.decode

    def decode(self, body: bytes) -> Any:
        try:
            return self._decode(body)
        except msgspec.ValidationError as exc:
            if _FLOAT_FOR_INT.match(str(exc)) is None:
                raise
        return self._decode(whole_numbers_as_ints(body))
