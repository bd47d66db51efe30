"""Query parameters shared by the list routes."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

Cursor = Annotated[str | None, QueryParameter(max_length=500, description="next_cursor of the previous page")]
Limit = Annotated[int | None, QueryParameter(ge=1, le=500)]
