"""Whether this process traces, and spans for Keel's own work (outbox deliveries).

Tracing is switched on once per process by `platform_core.runtime.tracing` (from the standard
`OTEL_*` variables) and is off otherwise. While it is off `span()` hands back one shared
do-nothing context manager: a hot loop pays a single check, not the OpenTelemetry API's
no-op span machinery."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

_provider: trace.TracerProvider | None = None
_tracer: trace.Tracer | None = None
_NOTHING = contextlib.nullcontext()


def tracing() -> bool:
    return _tracer is not None


def tracer_provider() -> trace.TracerProvider | None:
    """The provider spans go to, or None while tracing is off."""
    return _provider


def use_tracer_provider(provider: trace.TracerProvider | None) -> None:
    global _provider, _tracer
    _provider = provider
    _tracer = provider.get_tracer("keel") if provider is not None else None


def span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> AbstractContextManager[object]:
    """A span, current for the `with` block, while tracing is on; nothing otherwise."""
    if _tracer is None:
        return _NOTHING
    return _tracer.start_as_current_span(name, attributes=attributes)


def untraced() -> AbstractContextManager[object]:
    """No spans from instrumented libraries (SQL) inside the block, while tracing is on."""
    if _tracer is None:
        return _NOTHING
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, in the hex form trace backends show."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
