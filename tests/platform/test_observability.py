"""Observability: a request id on every response and every log record made while serving it,
text or JSON logs, and OpenTelemetry traces (HTTP server spans with their SQL, outbox
deliveries) that exist only when the OTEL_* variables ask for them."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence

import asyncpg
import httpx
import msgspec
import pytest
from litestar.types import Receive, Scope, Send
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from modules.audit.models import AuditOutbox
from modules.audit.services.capture import outbox_row
from platform_core.core import telemetry
from platform_core.core.config import settings_from_env
from platform_core.core.logs import RequestContextFilter, formatter
from platform_core.http.app import create_app
from platform_core.http.request_id import RequestIdMiddleware
from platform_core.http.tracing import traced
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.outbox import OUTCOME, OutboxRelay, OutboxRelaySpec, OutboxRow
from platform_core.runtime.runtime import Runtime
from platform_core.runtime.tracing import provider_from_env, start_tracing, stop_tracing

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")


# --- request id ---------------------------------------------------------------------------


async def test_every_response_carries_a_new_request_id(client: httpx.AsyncClient) -> None:
    first, second = await client.get("/health"), await client.get("/no-such-route")
    assert UUID.fullmatch(first.headers["x-request-id"])
    assert UUID.fullmatch(second.headers["x-request-id"])  # errors too
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_sane_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    r = await client.get("/health", headers={"X-Request-ID": "lb-7f3a:9b2c/1"})
    assert r.headers["x-request-id"] == "lb-7f3a:9b2c/1"


@pytest.mark.parametrize("incoming", [b"x" * 129, b"has space", b'quote"d', b"", b"id\xc3\xbc", b"a\x00b"])
async def test_an_insane_incoming_request_id_is_replaced(client: httpx.AsyncClient, incoming: bytes) -> None:
    r = await client.get("/health", headers=[(b"X-Request-ID", incoming)])
    assert UUID.fullmatch(r.headers["x-request-id"])


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Records of the `keel.test` logger as the JSON handler would write them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("keel.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_records_made_while_serving_carry_the_request_id(captured: io.StringIO) -> None:
    async def logging_app(scope: Scope, receive: Receive, send: Send) -> None:
        logging.getLogger("keel.test").info("serving %s", scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[arg-type]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[arg-type]

    transport = httpx.ASGITransport(app=RequestIdMiddleware(logging_app))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as c:
        r = await c.get("/somewhere", headers={"Authorization": "Bearer keel_pat_secret"})
    logging.getLogger("keel.test").info("after the request")
    during, after = records(captured)
    assert during["request_id"] == r.headers["x-request-id"]
    assert during["message"] == "serving /somewhere"
    assert after["request_id"] == "-"
    assert "keel_pat_secret" not in captured.getvalue()


def test_json_records_are_one_object_per_line(captured: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("keel.test").exception("it failed", extra={"relay": "audit"})
    (record,) = records(captured)
    assert record["level"] == "ERROR"
    assert record["logger"] == "keel.test"
    assert record["message"] == "it failed"
    assert record["relay"] == "audit"
    assert record["request_id"] == "-"
    assert "ValueError: boom" in str(record["exc_info"])
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", str(record["time"]))


def test_text_records_show_the_request_id() -> None:
    record = logging.LogRecord("keel.x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    RequestContextFilter().filter(record)
    assert formatter("text").format(record).endswith("INFO keel.x [-]: hello world")


def test_the_log_format_is_a_setting() -> None:
    assert settings_from_env({}).log_format == "text"
    assert settings_from_env({"KEEL_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(msgspec.ValidationError):
        settings_from_env({"KEEL_LOG_FORMAT": "yaml"})


# --- traces -------------------------------------------------------------------------------


OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
)


def provider_with(monkeypatch: pytest.MonkeyPatch, **environ: str) -> TracerProvider | None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return provider_from_env()


@pytest.mark.parametrize(
    "environ",
    [{}, {"OTEL_TRACES_EXPORTER": "none"}, {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}],
)
def test_tracing_is_off_unless_otel_variables_ask_for_it(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    assert provider_with(monkeypatch, **environ) is None


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "console"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SERVICE_NAME": "keel-eu"},
    ],
)
def test_otel_variables_switch_tracing_on(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    provider = provider_with(monkeypatch, **environ)
    assert provider is not None
    assert provider.resource.attributes["service.name"] == environ.get("OTEL_SERVICE_NAME", "keel")
    provider.shutdown()


def test_an_exporter_keel_does_not_ship_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="otlp_proto_grpc"):
        provider_with(monkeypatch, OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="grpc")


def test_with_tracing_off_nothing_is_installed(runtime: Runtime) -> None:
    assert not telemetry.tracing()
    handler = create_app(runtime).asgi_handler
    layers: list[str] = []
    while handler is not None and len(layers) < 10:
        layers.append(type(handler).__name__)
        handler = getattr(handler, "app", None)  # type: ignore[assignment]
    assert layers[:3] == [
        "RequestIdMiddleware",
        "FastLane",
        "RequestMetricsMiddleware",
    ]  # ids on fast answers too
    assert "OpenTelemetryMiddleware" not in layers
    assert not hasattr(asyncpg.Connection.fetch, "__wrapped__")  # no SQL instrumentation
    assert telemetry.span("outbox deliver x") is telemetry.span("outbox deliver y")  # shared no-op


@pytest.fixture
async def spans(runtime: Runtime) -> AsyncIterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    start_tracing(provider)
    try:
        yield exporter
    finally:
        stop_tracing()
        provider.shutdown()


def children_of(span: ReadableSpan, finished: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    """Every span below `span`, at any depth."""
    below: list[ReadableSpan] = []
    parents = {span.context.span_id}
    for candidate in sorted(finished, key=lambda s: s.start_time or 0):
        if candidate.parent is not None and candidate.parent.span_id in parents:
            below.append(candidate)
            parents.add(candidate.context.span_id)
    return below


async def test_a_request_is_a_server_span_with_its_sql(
    spans: InMemorySpanExporter, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    app = create_app(runtime)
    assert any(isinstance(layer, OpenTelemetryMiddleware) for layer in (app.asgi_handler.app,))  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as c:
        slug = f"traced-{uuid.uuid4().hex[:8]}"
        r = await c.post("/organizations", json={"slug": slug, "name": "Traced"}, headers=admin_headers)
    assert r.status_code == 201, r.text
    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if s.kind == SpanKind.SERVER]
    assert server.name == "POST /organizations"
    assert (server.attributes or {})["http.route"] == "/organizations"
    sql = [s for s in children_of(server, finished) if s.kind == SpanKind.CLIENT]
    assert sql, [s.name for s in finished]
    assert any(str((s.attributes or {}).get("db.statement")).startswith("INSERT") for s in sql)
    assert all("keel_pat" not in str(s.attributes) for s in finished)  # no token in any span


async def test_an_outbox_delivery_is_a_span_with_its_sql(
    spans: InMemorySpanExporter, runtime: Runtime
) -> None:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    event = Event(
        type="tracetest.gadget.created", subject=Subject(type="gadget", id="g-1"), org_id=uuid.uuid4()
    )
    async with runtime.engine.begin() as conn:
        await conn.execute(insert(AuditOutbox.__table__), [outbox_row(event)])  # type: ignore[arg-type]
    stats = await OutboxRelay(runtime.engine, spec, runtime.tuning).drain(time_budget_seconds=30)
    assert stats.delivered >= 1
    finished = spans.get_finished_spans()
    deliveries = [s for s in finished if s.name == "outbox deliver audit"]
    assert deliveries
    assert int((deliveries[0].attributes or {})["keel.outbox.rows"]) >= 1  # type: ignore[arg-type]
    assert any(s.kind == SpanKind.CLIENT for s in children_of(deliveries[0], finished))
    # claims are not traced: a sweep that finds nothing due leaves no trace at all
    assert not any("SKIP LOCKED" in str((s.attributes or {}).get("db.statement")) for s in finished)


async def test_a_route_answered_before_routing_is_named_by_its_path(spans: InMemorySpanExporter) -> None:
    async def fast_lane(scope: Scope, receive: Receive, send: Send) -> None:  # no router: no path_template
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[arg-type]
        await send({"type": "http.response.body", "body": b"{}"})  # type: ignore[arg-type]

    transport = httpx.ASGITransport(app=traced(fast_lane, fixed_paths={"/entitlements/check"}))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as c:
        await c.get("/entitlements/check?workspace=w&key=k")
        await c.get("/somewhere/else")
    names = sorted(s.name for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert names == ["GET", "GET /entitlements/check"]


SCRATCH_OUTBOX = "public.trace_test_outbox"


@pytest.fixture
async def scratch_outbox(runtime: Runtime) -> AsyncIterator[str]:
    """An outbox table of this test's own, so its relay touches no module's rows."""
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                f"""CREATE TABLE {SCRATCH_OUTBOX} (
                    id uuid PRIMARY KEY, status text NOT NULL DEFAULT 'pending',
                    attempts int NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL DEFAULT now(),
                    lease_expires_at timestamptz, claimed_by uuid, last_error text,
                    delivered_at timestamptz)"""
            )
        )
        await conn.execute(
            text(f"INSERT INTO {SCRATCH_OUTBOX} (id) SELECT gen_random_uuid() FROM generate_series(1, 3)")
        )
    yield SCRATCH_OUTBOX
    async with runtime.engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE {SCRATCH_OUTBOX}"))


async def test_an_outside_call_is_a_span_beside_the_delivery(
    spans: InMemorySpanExporter, runtime: Runtime, scratch_outbox: str
) -> None:
    async def call(rows: Sequence[OutboxRow]) -> dict[uuid.UUID, str]:
        return {row["id"]: "accepted" for row in rows}

    async def handler(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
        assert all(row[OUTCOME] == "accepted" for row in rows)

    spec = OutboxRelaySpec(
        name="tracetest", table=scratch_outbox, handler=handler, call=call, returning="o.id"
    )
    stats = await OutboxRelay(runtime.engine, spec, runtime.tuning).process_batch()
    assert stats.delivered == 3
    names = [s.name for s in spans.get_finished_spans()]
    assert "outbox call tracetest" in names
    assert "outbox deliver tracetest" in names
