"""Operational endpoints: liveness, readiness (with a real broken dependency), Prometheus
metrics and the OpenAPI document."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from modules.composition import build_runtime
from platform_core.core.config import Settings
from platform_core.http.app import create_app
from tests.platform.test_http_errors import assert_problem


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_ready_checks_database_and_broker(client: httpx.AsyncClient) -> None:
    r = await client.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


@pytest.fixture
async def broker_down_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    broken = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    runtime = build_runtime(broken)
    transport = httpx.ASGITransport(app=create_app(runtime), raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as c:
        yield c
    await runtime.dispose()


async def test_ready_is_503_when_the_broker_is_unreachable(broker_down_client: httpx.AsyncClient) -> None:
    body = assert_problem(await broker_down_client.get("/ready"), 503, "not_ready")
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")
    # liveness does not depend on the broker
    assert (await broker_down_client.get("/health")).status_code == 200


def request_count(metrics: str, method: str, path: str, status: int) -> float:
    total = 0.0
    for line in metrics.splitlines():
        sample = re.fullmatch(r"litestar_requests_total\{(.*)\} (\S+)", line)
        if sample is None:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', sample[1]))
        if (labels.get("method"), labels.get("path"), labels.get("status_code")) == (
            method,
            path,
            str(status),
        ):
            total += float(sample[2])
    return total


async def test_metrics_count_requests(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    before = request_count((await client.get("/metrics")).text, "GET", "/health", 200)
    for _ in range(3):
        assert (await client.get("/health")).status_code == 200
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "# TYPE litestar_requests_total counter" in r.text
    assert request_count(r.text, "GET", "/health", 200) == before + 3
    # paths are grouped by route template, so ids do not explode the label space
    await client.get("/identity/persons/00000000-0000-0000-0000-000000000001", headers=admin_headers)
    metrics = (await client.get("/metrics")).text
    assert request_count(metrics, "GET", "/identity/persons/{person_id}", 404) >= 1
    assert "00000000-0000-0000-0000-000000000001" not in metrics


async def test_openapi_document_lists_the_routes(client: httpx.AsyncClient) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    document = r.json()
    assert document["openapi"].startswith("3.")
    assert "/identity/persons" in document["paths"]
    assert "post" in document["paths"]["/identity/persons"]
    assert "/identity/persons/{person_id}" in document["paths"]
    assert "/audit/logs" in document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
