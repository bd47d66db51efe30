"""The decoder of one route's JSON body, built once per route (`platform_core.http.strict_signature`).

Strict (`strict=True`: no coercion), with the route's type decoders, and reading the decimal
fields typed with a `platform_core.core.decimals.JSONDecimal` class by that class's
`from_json`; for a body holding one, `float_hook` keeps each JSON number's text so that a
decimal sent as a number stays exact. The decimals decoded are plain `Decimal`s."""

from __future__ import annotations

from collections.abc import Callable
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


class BodyDecoder:
    __slots__ = ("decode",)

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
        self.decode: Callable[[bytes], Any] = decoder.decode
