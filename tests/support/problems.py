"""Assertions on problem+json answers (RFC 9457), shared by the HTTP boundary tests."""

from __future__ import annotations

from typing import Any

import httpx

TRACE_MARKERS = ("Traceback", 'File "', "site-packages", "platform_core/", "modules/", ".py:")


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a problem document with Keel's stable fields and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"].endswith("/" + body["code"])
    if code is not None:
        assert body["code"] == code, body
    for marker in TRACE_MARKERS:
        assert marker not in response.text, f"response leaks {marker!r}: {response.text[:500]}"
    return body


def error_fields(body: dict[str, Any]) -> list[Any]:
    return [error.get("field") for error in body.get("errors", [])]


def assert_names_field(response: httpx.Response, status: int, field: str, source: str) -> dict[str, Any]:
    """A problem whose `errors` name exactly `field`, found in `source` (body, query, path)."""
    body = assert_problem(response, status)
    assert error_fields(body) == [field], body
    assert body["errors"][0]["source"] == source, body
    return body
