"""Cursor (keyset) pagination: `?limit=&cursor=` in, `{items, next_cursor}` out."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Generic, TypeVar, TypeVarTuple

import msgspec
from sqlalchemy import BigInteger, Integer, Select, SmallInteger, tuple_
from sqlalchemy.sql.elements import ColumnElement

from platform_core.core.errors import InvalidRequest

T = TypeVar("T")
Row = TypeVarTuple("Row")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(values))).decode().rstrip("=")


def _check_storable(value: Any, column: ColumnElement[Any]) -> None:
    """A forged cursor must fail here as a 400, not in the database as a 500."""
    if isinstance(value, int) and isinstance(column.type, Integer):
        bits = 32
        if isinstance(column.type, BigInteger):
            bits = 64
        elif isinstance(column.type, SmallInteger):
            bits = 16
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise ValueError("cursor value out of range")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("cursor value contains NUL")


def decode_cursor(cursor: str, columns: Sequence[ColumnElement[Any]]) -> list[Any]:
    try:
        raw = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("cursor shape")
        values = [
            msgspec.convert(v, c.type.python_type, strict=False) for v, c in zip(raw, columns, strict=True)
        ]
        for value, column in zip(values, columns, strict=True):
            _check_storable(value, column)
        return values
    except (
        ValueError,
        msgspec.ValidationError,
        msgspec.DecodeError,
        NotImplementedError,
        RecursionError,
    ) as exc:
        raise InvalidRequest("the cursor is not valid", code="invalid_cursor") from exc


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(
            f"limit must be between 1 and {MAX_LIMIT}",
            errors=[{"field": "limit", "source": "query", "message": "out of range"}],
        )
    return limit


def keyset(
    stmt: Select[*Row],
    columns: Sequence[ColumnElement[Any]],
    *,
    cursor: str | None,
    limit: int,
    descending: bool = False,
) -> Select[*Row]:
    """Order `stmt` by `columns` (which must be unique together) and start after `cursor`.
    Fetches one extra row so the caller can tell whether a next page exists."""
    if cursor:
        values = decode_cursor(cursor, columns)
        key = tuple_(*columns)
        stmt = stmt.where(key < tuple_(*values) if descending else key > tuple_(*values))
    order = [c.desc() for c in columns] if descending else list(columns)
    return stmt.order_by(*order).limit(limit + 1)


def page_of(rows: Sequence[Any], limit: int, key_of: Any, convert: Any = None) -> Page[Any]:
    """Build a Page from rows fetched by `keyset` (limit + 1 rows at most)."""
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(key_of(rows[-1])) if more and rows else None
    items = [convert(r) for r in rows] if convert else list(rows)
    return Page(items=items, next_cursor=next_cursor)
