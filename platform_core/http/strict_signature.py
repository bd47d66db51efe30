"""Strict types at the HTTP boundary: no silent coercion.

Litestar validates a handler's arguments by converting them into its signature model with
msgspec's `strict=False`, which is right for query strings (everything arrives as text) but
also turns a JSON `0` into `false` or into 1970-01-01, and a query `?to=0.5` into a time.
`StrictSignatureModel` keeps that conversion for parameters but first refuses what the lax
rules would coerce (booleans other than `true`/`false`, integers with a fraction or an
exponent, times that are numbers). It names the type the JSON body is decoded into with
`strict=True` by `platform_core.http.json_body`, before Litestar's own conversion, which then
has nothing left to coerce. `make_signatures_strict(app)` gives every route handler this model."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, ClassVar

import msgspec
from litestar import Litestar
from litestar._signature import SignatureModel
from litestar.connection import ASGIConnection
from litestar.constants import RESERVED_KWARGS
from litestar.enums import ParamType
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import DependencyKwarg, ParameterKwarg
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from platform_core.http.body_decoder import BodyDecoder

_INTEGER = re.compile(r"[+-]?[0-9]{1,40}")


def _is_bool(text: str) -> bool:
    return text in ("true", "false")


def _is_integer(text: str) -> bool:
    return _INTEGER.fullmatch(text) is not None


def _is_not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


# first matching type wins: bool is an int
_TEXT_RULES: tuple[tuple[type, Callable[[str], bool], str], ...] = (
    (bool, _is_bool, "`true` or `false`"),
    (int, _is_integer, "an integer"),
    (datetime, _is_not_a_number, "an RFC 3339 date-time"),
    (date, _is_not_a_number, "an ISO 8601 date"),
    (time, _is_not_a_number, "an ISO 8601 time"),
)


class _ParamRule(msgspec.Struct, frozen=True):
    field: str  # the handler's argument
    name: str  # what the client sends (`to` for `until`)
    source: str | None  # query, header, cookie; None: query unless a path parameter
    accepts: Callable[[str], bool]
    expected: str


def _scalar(field: FieldDefinition) -> Any:
    """The one non-None type of `field` (`int` for `int | None`), or None for other unions."""
    if field.is_union:
        types = [inner for inner in field.inner_types if not inner.is_none_type]
        return types[0].annotation if len(types) == 1 else None
    return field.annotation


def _param_rules(fields: dict[str, FieldDefinition], dependencies: set[str]) -> tuple[_ParamRule, ...]:
    rules: list[_ParamRule] = []
    for name, field in fields.items():
        kwarg = field.kwarg_definition
        if name in RESERVED_KWARGS or name in dependencies or isinstance(kwarg, DependencyKwarg):
            continue
        if kwarg is not None and not isinstance(kwarg, ParameterKwarg):
            continue
        kind = _scalar(field)
        for base, accepts, expected in _TEXT_RULES:
            if isinstance(kind, type) and issubclass(kind, base):
                alias = (kwarg.name if kwarg is not None else None) or name
                source = str(kwarg.param_type.value) if kwarg is not None else None
                rules.append(_ParamRule(name, alias, source, accepts, expected))
                break
    return tuple(rules)


def invalid(connection: ASGIConnection[Any, Any, Any, Any], errors: list[dict[str, Any]]) -> Exception:
    method = getattr(connection, "method", "")
    return ValidationException(detail=f"Validation failed for {method} {connection.url.path}", extra=errors)


class StrictSignatureModel(SignatureModel):
    _param_rules: ClassVar[tuple[_ParamRule, ...]] = ()
    # what `data` is decoded into, strictly, from the JSON body (platform_core.http.json_body)
    body_type: ClassVar[Any] = None
    body_decoder: ClassVar[BodyDecoder | None] = None

    @classmethod
    def parse_values_from_connection_kwargs(
        cls, connection: ASGIConnection[Any, Any, Any, Any], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        for rule in cls._param_rules:
            value = kwargs.get(rule.field)
            if type(value) is str and not rule.accepts(value):
                source = rule.source or (
                    ParamType.PATH.value if rule.name in connection.path_params else ParamType.QUERY.value
                )
                message = f"Expected {rule.expected}, got {value[:40]!r}"
                raise invalid(connection, [{"key": rule.name, "source": source, "message": message}])
        return super().parse_values_from_connection_kwargs(connection, kwargs)

    @classmethod
    def for_handler(cls, handler: HTTPRouteHandler) -> type[StrictSignatureModel]:
        """The handler's signature model as Litestar builds it, on this base."""
        model = cls.create(
            dependency_name_set=handler.dependency_name_set,
            fn=handler.fn,
            parsed_signature=handler.parsed_fn_signature,
            data_dto=handler.resolve_data_dto(),
            type_decoders=handler.resolve_type_decoders(),
        )
        assert issubclass(model, StrictSignatureModel)
        model._param_rules = _param_rules(handler.parsed_fn_signature.parameters, handler.dependency_name_set)
        if "data" in model._fields and handler.resolve_data_dto() is None:
            # as declared: the model's own annotation drops msgspec constraints on the body type
            # itself (`Annotated[list[X], Meta(min_length=1)]`), which the decoder must enforce
            model.body_type = handler.parsed_fn_signature.parameters["data"].raw
            model.body_decoder = BodyDecoder(model.body_type, handler.default_deserializer)
        return model


def make_signatures_strict(app: Litestar) -> None:
    # Litestar offers no setting for the signature model's base, so each handler's model (built
    # lazily into `_signature_model`) is replaced; tests/platform/test_strict_types.py fails if
    # a Litestar upgrade stops reading it from there.
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                handler._signature_model = StrictSignatureModel.for_handler(handler)
