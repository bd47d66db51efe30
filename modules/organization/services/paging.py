"""Keyset pagination by primary key (uuid7 ids sort by creation time)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from platform_core.persistence.pagination import keyset


def by_id(stmt: Any, id_column: InstrumentedAttribute[Any], *, cursor: str | None, limit: int) -> Select[Any]:
    # `stmt` is any Select shape; the kernel's signature predates SQLAlchemy 2.1's variadic Select
    return keyset(stmt, [id_column.expression], cursor=cursor, limit=limit)
