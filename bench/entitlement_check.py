"""Entitlement check throughput and latency: `GET /entitlements/check` of the served app next to
a bare Litestar JSON endpoint served the same way, both loaded by `wrk` in the same run.

    uv run python -m bench.entitlement_check [--duration S] [--connections C]

Needs `wrk` (Debian: `apt-get install -y wrk`). Database: DATABASE_URL (migrated to head) or a
fresh `keel_bench_ingest` (as bench.usage_ingest) on postgresql://postgres@127.0.0.1:5432;
Redis: REDIS_URL or db 6.

Setup: one organization, one workspace whose pool has a hard SUM limit of 10^12. Both
servers are one uvicorn process (uvloop, httptools, no access log) on 127.0.0.1; wrk runs 2
threads and C connections (default 8) for S seconds after a warm-up. The app is asked with a
platform-admin personal access token (bearer resolution: one indexed read; no RBAC query) and,
second, with an organization service-account key holding the `member` role (resolution plus
the RBAC decision), which is what a product calling the check looks like.
Prints /proc/loadavg: the machine may be shared with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, get

from bench import load_average, machine_summary
from bench.usage_ingest import prepare_database, settings, setup, uvicorn_process, wait_until_up
from modules.composition import MODULES, build_app, build_runtime
from platform_core.http.app import create_app
from platform_core.runtime.module import ModuleSpec
from platform_core.runtime.runtime import Runtime

APP_PORT = 8741
BARE_PORT = 8742


@get("/bare", sync_to_thread=False)
def bare_check() -> dict[str, Any]:
    return {
        "key": "bench.calls",
        "allowed": True,
        "kind": "quota",
        "limit": "1000000000000",
        "used": "3",
        "remaining": "999999999997",
        "reset_at": "2026-12-01T00:00:00Z",
        "value": None,
        "reason": None,
    }


def bare_app() -> Litestar:
    return Litestar(route_handlers=[bare_check], openapi_config=None)


@get("/bench/auth-floor", sync_to_thread=False)
def auth_floor() -> dict[str, Any]:
    """The same static answer behind the app's whole middleware stack and bearer resolution:
    what any authenticated endpoint of this app costs before it does its own work."""
    return bare_check.fn()  # type: ignore[no-any-return]


BENCH_MODULE = ModuleSpec(name="bench", schema="public", route_handlers=[auth_floor])


def app_factory() -> Any:
    """The served app: every Keel module, plus the auth-floor route."""
    return create_app(Runtime(settings(), (*MODULES, BENCH_MODULE)))


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int
    server_cpu_us: float = 0.0  # the serving process's CPU time per request


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(
    server: subprocess.Popen[bytes], url: str, headers: dict[str, str], seconds: int, c: int
) -> WrkResult:
    before = process_cpu_s(server.pid)
    result = wrk(url, headers, seconds, c)
    result.server_cpu_us = (process_cpu_s(server.pid) - before) / max(result.requests, 1) * 1e6
    return result


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> WrkResult:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return WrkResult(rps, p50, p99, int(bad.group(1)) if bad else 0, total)


async def service_account_token(runtime: Runtime, admin: str, org_id: str) -> str:
    """A key of a service account of `org_id` holding the system `member` role there."""
    transport = httpx.ASGITransport(app=build_app(runtime.settings))
    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as c:
        r = await c.post(f"/orgs/{org_id}/service-accounts", json={"name": f"checker-{uuid.uuid4().hex[:6]}"})
        assert r.status_code == 201, r.text
        account = r.json()
        r = await c.get(f"/orgs/{org_id}/roles", params={"limit": 100})
        assert r.status_code == 200, r.text
        (member,) = [role for role in r.json()["items"] if role["key"] == "member"]
        r = await c.post(
            f"/orgs/{org_id}/role-assignments",
            json={
                "principal_type": "service_account",
                "principal_id": account["id"],
                "role_id": member["id"],
            },
        )
        assert r.status_code == 201, r.text
        r = await c.post(f"/orgs/{org_id}/service-accounts/{account['id']}/keys", json={"name": "bench"})
        assert r.status_code == 201, r.text
        token: str = r.json()["token"]
        return token


def report(name: str, result: WrkResult, bare: WrkResult | None = None) -> None:
    ratio = f"  {result.requests_per_s / bare.requests_per_s:6.0%} of bare" if bare else ""
    print(
        f"{name:26s} {result.requests_per_s:9,.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p99 {result.p99_ms:6.2f} ms  server CPU {result.server_cpu_us:6.0f} µs/req  "
        f"non-2xx {result.non_2xx}{ratio}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")

    await prepare_database()
    runtime = build_runtime(settings())
    try:
        admin, tenants, key = await setup(runtime, 1)
        (tenant,) = tenants
        sak = await service_account_token(runtime, admin, tenant.org_id)
    finally:
        await runtime.dispose()

    url = f"http://127.0.0.1:{APP_PORT}/entitlements/check?workspace={tenant.workspace}&key={key}&quantity=1"
    app = uvicorn_process("bench.entitlement_check:app_factory", APP_PORT)
    bare = uvicorn_process("bench.entitlement_check:bare_app", BARE_PORT)
    try:
        async with httpx.AsyncClient(base_url="http://127.0.0.1") as client:
            await wait_until_up(client, app, f"http://127.0.0.1:{APP_PORT}/health")
            await wait_until_up(client, bare, f"http://127.0.0.1:{BARE_PORT}/bare")
            for token in (admin, sak):
                r = await client.get(url, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
                assert r.json()["allowed"] is True, r.text
        admin_h = {"Authorization": f"Bearer {admin}"}
        sak_h = {"Authorization": f"Bearer {sak}"}
        bare_url = f"http://127.0.0.1:{BARE_PORT}/bare"
        floor_url = f"http://127.0.0.1:{APP_PORT}/bench/auth-floor"
        runs = {
            "bare": (bare, bare_url, {}),
            "floor": (app, floor_url, admin_h),
            "admin": (app, url, admin_h),
            "sak": (app, url, sak_h),
        }
        for _, target, headers in runs.values():  # warm-up
            wrk(target, headers, 2, args.connections)
        results = {
            name: measured(server, target, headers, args.duration, args.connections)
            for name, (server, target, headers) in runs.items()
        }
    finally:
        for process in (app, bare):
            process.terminate()
            process.wait(timeout=10)

    print(f"machine: {machine_summary()}")
    print(f"wrk: 2 threads, {args.connections} connections, {args.duration} s each, after a 2 s warm-up")
    bare_result = results["bare"]
    report("bare Litestar endpoint", bare_result)
    report("auth floor (admin PAT)", results["floor"], bare_result)
    report("check (admin PAT)", results["admin"], bare_result)
    report("check (service account)", results["sak"], bare_result)
    print(f"loadavg: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
