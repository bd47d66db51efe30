"""RFC 9457 problem+json errors: one exception type for the domain, handlers that turn every
failure (validation, auth, unknown route, database conflict, crash) into a problem document
with a stable `code`, never a stack trace."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError, IntegrityError

from platform_core.core.outages import RETRY_AFTER_SECONDS, is_outage

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "https://keel.dev/problems/"


class ProblemError(Exception):
    """Raise from any layer; the HTTP boundary renders it as problem+json."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.code = code or self.code
        self.status = status or self.status
        self.title = title or self.title
        self.errors = errors
        self.headers = headers or {}


class InvalidRequest(ProblemError):
    status, code, title = 400, "invalid_request", "Invalid request"


class Unauthenticated(ProblemError):
    """401. `bearer_error` is RFC 6750's error code for the challenge (`invalid_token` where a
    bearer token was refused, `invalid_request` where it was malformed); None where no bearer
    token was sent."""

    status, code, title = 401, "unauthenticated", "Authentication required"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        bearer_error: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail, code=code, headers=headers)
        if bearer_error is not None:
            self.headers.setdefault("WWW-Authenticate", bearer_challenge(bearer_error, detail))


class Forbidden(ProblemError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class Unprocessable(ProblemError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class TooManyRequests(ProblemError):
    status, code, title = 429, "rate_limited", "Too many requests"


_CHALLENGE_TEXT = re.compile(r'[^\x20-\x7e]|["\\]')  # RFC 6750 §3: no quote, backslash or control


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """An RFC 6750 `WWW-Authenticate` value: bare where no token was sent, else with `error`."""
    challenge = 'Bearer realm="keel"'
    if error:
        challenge += f', error="{error}"'
        if description:
            challenge += f', error_description="{_CHALLENGE_TEXT.sub("", description)}"'
    return challenge


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"type": _TYPE_BASE + code, "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if status == 401 and not any(name.lower() == "www-authenticate" for name in headers or ()):
        headers = {**(headers or {}), "WWW-Authenticate": bearer_challenge()}  # every 401 challenges
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _on_problem(request: Request[Any, Any, Any], exc: ProblemError) -> Response[Any]:
    return problem_response(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        instance=request.url.path,
    )


# msgspec names an unknown or missing key only in its message; the error's own key is the
# enclosing object (Litestar reports the top-level body as "data")
_FIELD_IN_MESSAGE = re.compile(r"(?:unknown|missing required) field `([^`]+)`")


def _field_of(item: dict[str, Any]) -> Any:
    key = item.get("key")
    match = _FIELD_IN_MESSAGE.search(str(item.get("message") or ""))
    if match is None:
        return key
    parent = None if key in (None, "", "data") else key
    return f"{parent}.{match[1]}" if parent else match[1]


def _on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors: list[dict[str, Any]] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                errors.append(
                    {
                        "field": _field_of(item),
                        "source": item.get("source"),
                        "message": item.get("message"),
                    }
                )
    return problem_response(
        400, "invalid_request", "Invalid request", exc.detail, errors=errors, instance=request.url.path
    )


_HTTP_CODES = {
    400: ("invalid_request", "Invalid request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
}


def _on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        return _on_crash(request, exc)
    cause = exc.__cause__
    if exc.status_code == 404 and isinstance(cause, ValueError) and not isinstance(cause, HTTPException):
        # Litestar's router matched the route but could not parse a typed path parameter
        # (e.g. `{org_id:uuid}` given `not-a-uuid`): that is a malformed request, not a miss.
        return problem_response(
            400,
            "invalid_path_parameter",
            "Invalid request",
            "a path parameter is malformed (identifiers are UUIDs)",
            instance=request.url.path,
        )
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if exc.detail and exc.detail != title else None
    return problem_response(
        exc.status_code, code, title, detail, headers=exc.headers, instance=request.url.path
    )


def _on_integrity(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Any]:
    log.info("integrity error at %s: %s", request.url.path, exc.orig)
    return problem_response(
        409,
        "conflict",
        "Conflict",
        "the request conflicts with the current state of the resource",
        instance=request.url.path,
    )


def _on_dbapi(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Any]:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate in {"40001", "40P01"}:  # serialization failure / deadlock: safe to retry
        return problem_response(
            409, "retry", "Concurrent update", "please retry the request", instance=request.url.path
        )
    if sqlstate == "25006":  # read-only transaction (e.g. a frozen tenant guard)
        return problem_response(409, "read_only", "Read only", instance=request.url.path)
    if sqlstate in CLIENT_DATA_SQLSTATES:
        return _on_data_error(request, exc)
    return _on_crash(request, exc)


# The data exceptions (SQLSTATE class 22) a value sent by a client causes when validation let
# it through: asyncpg's own "invalid input for query argument" (22000: an int out of int32, a
# lone surrogate), string too long, number out of range, bad date-time, NUL or untranslatable
# character, bad text representation, LIKE escapes. Others, such as division by zero, are bugs.
CLIENT_DATA_SQLSTATES = frozenset(
    {"22000", "22001", "22003", "22007", "22008", "22019", "22021", "22025", "22P02", "22P05"}
)


def _on_data_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A safety net: schemas bound what they can (platform_core.core.ranges), and this answers
    422 for the rest instead of a 500."""
    log.warning("data exception at %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        422,
        "unprocessable",
        "Unprocessable request",
        "a value in the request cannot be stored (out of range or not representable)",
        instance=request.url.path,
    )


def _on_outage(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("dependency unavailable at %s %s: %r", request.method, request.url.path, exc)
    return problem_response(
        503,
        "service_unavailable",
        "Service unavailable",
        "a service this request needs is unavailable; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        instance=request.url.path,
    )


def _on_asyncpg_data_error(request: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[Any]:
    if exc.sqlstate in CLIENT_DATA_SQLSTATES:
        return _on_data_error(request, exc)
    return _on_crash(request, exc)


def _on_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if is_outage(exc):  # every handler ends here for what it does not know (see core.outages)
        return _on_outage(request, exc)
    log.exception("unhandled error at %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "internal_error", "Internal server error", instance=request.url.path)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ProblemError: _on_problem,
    ValidationException: _on_validation,
    HTTPException: _on_http,
    IntegrityError: _on_integrity,
    DBAPIError: _on_dbapi,
    asyncpg.DataError: _on_asyncpg_data_error,  # raw asyncpg paths (ingest, check, credentials)
    Exception: _on_crash,
}
