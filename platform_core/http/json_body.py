"""How a JSON request body is read: only under a JSON media type (else 415), malformed or
nested past the decoder's depth as 400, and never with a NUL character, which PostgreSQL
cannot store in `text` or `jsonb` (400 naming the field that carries it).

The size limit (413, chunked bodies included) is Litestar's `request_max_body_size`, set from
`KEEL_MAX_BODY_BYTES`. The body is decoded straight into the route's `data` type with
`strict=True` by the route's `platform_core.http.body_decoder`: no coercion, decimals exact and
as documented, and one pass instead of Litestar's decode-then-convert."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import Empty

from platform_core.core.errors import InvalidRequest
from platform_core.http.input_limits import nul_field, refuse_nul

_DECODER = msgspec.json.Decoder()
# memchr-fast: most bodies carry no backslash at all, so the slower search below never runs
_BACKSLASH = b"\\"
_ESCAPED_NUL = b"\\u0000"


class UnsupportedMediaType(HTTPException):
    status_code = 415


def is_json_media_type(content_type: str | None) -> bool:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _body_key(path: str) -> str:
    """msgspec's `$.events[3].quantity` as `events[3].quantity`; the body itself is `data`."""
    if path == "$":
        return "data"
    return path[2:] if path.startswith("$.") else "data" + path[1:]


class JSONRequest(Request[Any, Any, Any]):
    """The application's request class (`AppConfig.request_class`)."""

    async def json(self) -> Any:
        if self._json is not Empty:
            return self._json
        if (cached := self._connection_state.json) is not Empty:
            self._json = cached
            return cached
        body = await self.body()
        if body and not is_json_media_type(self.headers.get("content-type")):
            raise UnsupportedMediaType(detail="the request body must be application/json")
        # decoded straight into the handler's `data` type: strict, and exact for decimals
        decoder = getattr(self.route_handler.signature_model, "body_decoder", None)
        try:
            value = (decoder or _DECODER).decode(body or b"null")
        except msgspec.ValidationError as exc:  # a DecodeError too: first
            self._refuse_nul(body)  # the more useful answer where the body also holds a NUL
            raise self._invalid(exc) from exc
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # invalid UTF-8 is the latter
            raise InvalidRequest(f"the body is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise InvalidRequest("the JSON body is nested too deeply") from exc
        self._refuse_nul(body)
        self._json = self._connection_state.json = value
        return value

    @staticmethod
    def _refuse_nul(body: bytes) -> None:
        if _BACKSLASH in body and _ESCAPED_NUL in body:
            try:
                value = _DECODER.decode(body)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                return  # malformed past the first type error: that error is the answer
            field = nul_field(value)
            if field is not None:
                raise refuse_nul(field or "body", "body")

    def _invalid(self, exc: msgspec.ValidationError) -> ValidationException:
        message, _, where = str(exc).rpartition(" - at `")
        if not message:
            message, where = str(exc), "$`"
        error = {"key": _body_key(where.rstrip("`")), "message": message, "source": "body"}
        return ValidationException(
            detail=f"Validation failed for {self.method} {self.url.path}", extra=[error]
        )
