"""The query parameters of every list route, declared once: the document states the bounds that
`platform_core.persistence.pagination.check_limit` enforces, and the signature model refuses a
value outside them (400 naming `limit`) before the handler runs."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from platform_core.persistence.pagination import DEFAULT_LIMIT, MAX_LIMIT

Limit = Annotated[
    int | None,
    QueryParameter(
        ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"
    ),
]
Cursor = Annotated[
    str | None, QueryParameter(max_length=500, description="`next_cursor` of the previous page")
]
