"""OpenTelemetry tracing, configured only by the standard `OTEL_*` variables.

Tracing is on when `OTEL_TRACES_EXPORTER` names an exporter other than `none`, or when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and
`OTEL_SDK_DISABLED` is not `true`. Everything else (endpoint, headers, sampler, batch sizes,
service name, resource attributes) is read by the OpenTelemetry SDK itself. When tracing is off
nothing is installed: no ASGI middleware, no database instrumentation, no span processor.

What is traced: every HTTP request (a server span named by route template, see
`platform_core.http.tracing`), every SQL statement sent through asyncpg (SQLAlchemy's included:
its asyncpg dialect sends through the same connection methods), and every outbox batch
delivery (`platform_core.messaging.outbox`). Statements are recorded without their parameters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import entry_points

from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from platform_core.core import telemetry

DEFAULT_SERVICE_NAME = "keel"
# OTEL_TRACES_EXPORTER=otlp picks the exporter by protocol; Keel installs http/protobuf only
_OTLP_BY_PROTOCOL = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters the environment asks for; empty when tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    listed = [name.strip() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if listed:
        return [] if "none" in listed else listed
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return ["otlp"]
    return []


def _exporter(name: str) -> SpanExporter:
    if name == "otlp":
        protocol = (
            os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        ).strip()
        name = _OTLP_BY_PROTOCOL.get(protocol, protocol)
    found = entry_points(group="opentelemetry_traces_exporter", name=name)
    if not found:
        raise ValueError(
            f"no OpenTelemetry trace exporter {name!r} is installed (OTEL_TRACES_EXPORTER, "
            "OTEL_EXPORTER_OTLP_PROTOCOL); Keel ships `otlp` over http/protobuf and `console`"
        )
    exporter: SpanExporter = next(iter(found)).load()()  # each reads its own OTEL_* settings
    return exporter


def provider_from_env() -> TracerProvider | None:
    """A tracer provider exporting where the `OTEL_*` variables say (the SDK reads them from
    the process environment), or None when tracing is off."""
    names = exporter_names(os.environ)
    if not names:
        return None
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource)  # OTEL_TRACES_SAMPLER
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))  # OTEL_BSP_*
    return provider


def start_tracing(provider: trace.TracerProvider) -> None:
    """Send SQL spans and Keel's own spans to `provider`; apps created from now on trace
    their HTTP requests (see `platform_core.http.tracing`)."""
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]  # no parameters captured
    telemetry.use_tracer_provider(provider)


def stop_tracing() -> None:
    """Undo `start_tracing` (apps created while it was on keep their middleware)."""
    AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
    telemetry.use_tracer_provider(None)


def setup_tracing() -> bool:
    """For a Keel process: trace if the environment asks for it, with the provider made the
    process's global one (libraries that trace on their own use it too)."""
    if telemetry.tracing():  # already set up in this process
        return True
    provider = provider_from_env()
    if provider is None:
        return False
    trace.set_tracer_provider(provider)
    start_tracing(provider)
    return True
