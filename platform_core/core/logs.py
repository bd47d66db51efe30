"""Process logging: readable text by default, one JSON object per line with `KEEL_LOG_FORMAT=json`.
Every record carries `request_id`, the id of the HTTP request being served ("-" outside one),
and `trace_id`/`span_id` while tracing is on. Nothing here logs request headers: the
Authorization header and the tokens in it never reach a log record."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from platform_core.core import telemetry

LogFormat = Literal["text", "json"]

# Set by platform_core.http.request_id for the duration of each request.
REQUEST_ID: ContextVar[str | None] = ContextVar("keel_request_id", default=None)

NO_REQUEST = "-"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = ("levelname", "name", "message", "request_id")
JSON_RENAMES = {"levelname": "level", "name": "logger"}
JSON_LEFT_OUT = [*RESERVED_ATTRS, "color_message"]  # uvicorn's copy of the message with ANSI colours


class RequestContextFilter(logging.Filter):
    """Adds the request id (and the current trace, while tracing) to every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or NO_REQUEST
        if telemetry.tracing():
            ids = telemetry.current_trace_ids()
            if ids is not None:
                record.trace_id, record.span_id = ids
        return True


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        # `time` is ISO 8601 in UTC; extra fields (trace_id, span_id, `extra=`) are added as keys
        return JsonFormatter(
            JSON_FIELDS, rename_fields=JSON_RENAMES, timestamp="time", reserved_attrs=JSON_LEFT_OUT
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Route every logger (uvicorn's and Dramatiq's included) to one stderr handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(RequestContextFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
