"""Operational endpoints: liveness, Prometheus metrics and the OpenAPI document (readiness:
test_ready.py)."""

from __future__ import annotations

import re

import httpx


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


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
