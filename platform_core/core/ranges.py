"""Integers bounded by the PostgreSQL column that stores them.

An `int` a client sends ends in an `integer` or `bigint` column; without these bounds a value
one past the column's range passes validation and fails in the database. Use them for request
fields and path or query parameters (`Annotated[PositiveInt32, Parameter(...)]` keeps them)."""

from __future__ import annotations

from typing import Annotated

import msgspec

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Int32 = Annotated[int, msgspec.Meta(ge=INT32_MIN, le=INT32_MAX)]
NonNegativeInt32 = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]
PositiveInt32 = Annotated[int, msgspec.Meta(ge=1, le=INT32_MAX)]
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
NonNegativeInt64 = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
PositiveInt64 = Annotated[int, msgspec.Meta(ge=1, le=INT64_MAX)]
