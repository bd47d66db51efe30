"""No NUL character reaches PostgreSQL, which cannot store one in `text` or `jsonb` and would
fail the request as a 500. `NulCharacterMiddleware` refuses a NUL in the path or the query
string (400 naming the parameter) for two short searches per request; JSON bodies are checked
where they are decoded (`platform_core.http.json_body`). Header values are not searched: HTTP
servers (h11, httptools) refuse a NUL in a header before the application sees it, and where one
reaches a column anyway it answers 422 (`platform_core.core.errors`, data exceptions)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from platform_core.core.errors import InvalidRequest


def nul_field(value: Any, path: str = "") -> str | None:
    """The path (`events[3].properties.note`) of the first string or key holding a NUL."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                if "\x00" in key:
                    return child_path.replace("\x00", "\\u0000")
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None


def refuse_nul(field: str, source: str) -> InvalidRequest:
    return InvalidRequest(
        f"{field} contains a NUL character",
        errors=[{"field": field, "source": source, "message": "contains a NUL character (\\u0000)"}],
    )


def _query_field(query_string: bytes) -> str:
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "\\u0000")
    return "query"


def _path_field(scope: Scope) -> str:
    params: dict[str, Any] = scope.get("path_params") or {}
    return next((name for name, value in params.items() if "\x00" in str(value)), "path")


_HTTP: Final = ScopeType.HTTP  # looked up once: an enum attribute costs more than the checks


class NulCharacterMiddleware:
    """Refuses a NUL in the path or query string of a request to a route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == _HTTP:
            query: bytes = scope["query_string"]
            if b"%00" in query or b"\x00" in query:
                raise refuse_nul(_query_field(query), "query")
            if "\x00" in scope["path"]:
                raise refuse_nul(_path_field(scope), "path")
        await self.app(scope, receive, send)
