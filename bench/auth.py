"""Authentication cost: requests/s of a credential-protected GET against the same endpoint
shape without authentication, in the same run, on the real app served by uvicorn.

    uv run python -m bench.auth [--seconds S] [--rounds R] [--connections C]

- `GET /identity/me` with a personal access token (`keel_pat_…`): bearer parsing, checksum,
  peppered HMAC, one indexed token lookup, the route guard, then the handler reads the person.
- the same with a Keycloak-style RS256 access token (JWKS from a file, just-in-time synced).
- baseline: `GET /bench/persons/{id}`, a route that exists only in this script's own app
  composition, served without authentication, whose handler does what `/identity/me` does:
  one unit of work, `identity.api.get_person`, the same PersonDTO.

The app runs in a child process (`uvicorn`, one worker, 127.0.0.1); the load comes from
`wrk` (1 thread, C connections) when installed, else from an httpx-based async generator
with C connections. Rounds alternate baseline and authenticated runs so drift on a shared
machine hits both; the median of each is reported, with the load average.

With DATABASE_URL set it runs there (migrated to head; it adds one person and token). Without
it, it (re)creates the database `keel_bench_auth` on postgresql://postgres@127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from litestar import Controller, Litestar, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from bench import load_average, machine_summary
from migrations import KEEL_MIGRATIONS as migrate
from modules.composition import MODULES
from modules.identity import api as identity_api
from modules.identity.contracts import PersonDTO
from platform_core.core.config import Settings, settings_from_env
from platform_core.http.app import create_app
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.module import ModuleSpec
from platform_core.runtime.runtime import Runtime

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "keel_bench_auth"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
ISSUER = "https://keycloak.bench/realms/keel"
AUDIENCE = "keel-bench"
PEPPER = "bench-pepper"


# ---------------------------------------------------------------- the bench's own composition


class BaselineController(Controller):
    path = "/bench"

    @get("/persons/{person_id:uuid}", summary="bench only: /identity/me's work, unauthenticated")
    async def person(self, person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> PersonDTO:
        return await identity_api.get_person(uow, person_id)


BENCH = ModuleSpec(
    name="bench", schema="public", route_handlers=[BaselineController], public_paths=["/bench/"]
)


def app_factory() -> Litestar:
    """`uvicorn bench.auth:app_factory --factory`: Keel's modules plus the baseline route."""
    return create_app(Runtime(settings_from_env(), (*MODULES, BENCH)))


# ---------------------------------------------------------------- setup


async def prepare_database() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    conn = await asyncpg.connect(asyncpg_dsn(DEFAULT_SERVER))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DEFAULT_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DEFAULT_DB}"')
    finally:
        await conn.close()
    return DEFAULT_SERVER.rpartition("/")[0] + "/" + DEFAULT_DB


@dataclass
class Credentials:
    person_id: uuid.UUID
    pat: str
    jwt: str


def signing_key(directory: Path) -> tuple[rsa.RSAPrivateKey, str, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = "bench-key"
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256", "use": "sig"}
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return key, kid, path


async def seed(settings: Settings, key: rsa.RSAPrivateKey, kid: str) -> Credentials:
    runtime = Runtime(settings, MODULES)
    try:
        async with runtime.uow() as uow:
            person = await identity_api.create_person(
                uow, kind="individual", display_name="Bench Person", email="bench@example.org"
            )
            issued = await identity_api.issue_token(uow, person_id=person.id, name="bench", scopes=["*"])
    finally:
        await runtime.dispose()
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": f"bench-{uuid.uuid4()}", "iat": now, "exp": now + 3600,
        "typ": "Bearer", "email": "jwt@example.org", "email_verified": True, "name": "Bench JWT",
    }  # fmt: skip
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    return Credentials(person_id=person.id, pat=issued.token, jwt=token)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(env: dict[str, str], port: int) -> Iterator[Server]:
    command = [
        sys.executable, "-m", "uvicorn", "bench.auth:app_factory", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the app did not start")
            time.sleep(0.2)
        yield Server(base=base, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- load


@dataclass
class Result:
    requests_per_second: float
    requests: int
    errors: int


def run_wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> Result:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    if socket_errors:
        print("   wrk:", socket_errors.group(0))
    return Result(float(rate.group(1)), int(total.group(1)), int(errors.group(1)) if errors else 0)


async def run_httpx(url: str, headers: dict[str, str], seconds: float, connections: int) -> Result:
    done = errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=10) as client:
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done, errors
            while time.monotonic() < deadline:
                response = await client.get(url)
                done += 1
                errors += response.status_code != 200

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - started
    return Result(done / elapsed, done, errors)


def measure(url: str, headers: dict[str, str], seconds: float, connections: int) -> Result:
    if shutil.which("wrk"):
        return run_wrk(url, headers, seconds, connections)
    return asyncio.run(run_httpx(url, headers, seconds, connections))


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    database_url = asyncio.run(prepare_database())
    migrate.upgrade(database_url)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    with tempfile.TemporaryDirectory() as tmp:
        key, kid, jwks = signing_key(Path(tmp))
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "KEEL_TOKEN_PEPPER": PEPPER,
            "KEEL_OIDC_ISSUER": ISSUER,
            "KEEL_OIDC_AUDIENCE": AUDIENCE,
            "KEEL_OIDC_JWKS_FILE": str(jwks),
            "KEEL_LOG_LEVEL": "WARNING",
        }
        settings = settings_from_env(env)
        creds = asyncio.run(seed(settings, key, kid))
        loader = "wrk -t1" if shutil.which("wrk") else "httpx async generator"
        print(f"machine: {machine_summary()}")
        print(
            f"load generator: {loader}, {args.connections} connections,"
            f" {args.seconds:g}s runs x {args.rounds}"
        )
        print(f"load average before: {load_average()}")
        with serve(env, free_port()) as server:
            base = server.base
            cases = {
                "no auth (baseline)": (f"{base}/bench/persons/{creds.person_id}", {}),
                "PAT": (f"{base}/identity/me", {"Authorization": f"Bearer {creds.pat}"}),
                "JWT (RS256)": (f"{base}/identity/me", {"Authorization": f"Bearer {creds.jwt}"}),
            }
            for url, headers in cases.values():  # warm up: connections, caches, JIT user sync
                check = httpx.get(url, headers=headers, timeout=5)
                if check.status_code != 200:
                    raise SystemExit(f"{url} answered {check.status_code}: {check.text}")
                measure(url, headers, 2, args.connections)
            rates: dict[str, list[float]] = {name: [] for name in cases}
            cpu: dict[str, list[float]] = {name: [] for name in cases}
            for round_no in range(args.rounds):
                for name, (url, headers) in cases.items():
                    cpu_before = server.cpu_seconds()
                    result = measure(url, headers, args.seconds, args.connections)
                    cpu_used = server.cpu_seconds() - cpu_before
                    if result.errors:
                        raise SystemExit(f"{name}: {result.errors} non-200 responses")
                    rates[name].append(result.requests_per_second)
                    cpu[name].append(cpu_used / result.requests * 1e6)
                    print(
                        f"  round {round_no + 1} {name:20} {result.requests_per_second:9.1f} req/s"
                        f" {cpu[name][-1]:7.0f} µs server CPU/request"
                    )
        print(f"load average after: {load_average()}")
        report(rates, cpu)


def report(rates: dict[str, list[float]], cpu: dict[str, list[float]]) -> None:
    """Costs are medians over rounds of the per-round ratio against that round's baseline, so
    slow drift in the machine's load affects both sides of each ratio alike."""
    base = "no auth (baseline)"
    print(
        f"\n{'endpoint':22} {'req/s':>9} {'cost':>7}   {'CPU µs/req':>10} {'cost':>7}   (medians over rounds)"
    )
    for name in rates:
        rate, used = statistics.median(rates[name]), statistics.median(cpu[name])
        if name == base:
            print(f"{name:22} {rate:9.1f} {'':>7}   {used:10.0f} {'':>7}")
            continue
        rate_cost = statistics.median(1 - a / b for a, b in zip(rates[name], rates[base], strict=True)) * 100
        # CPU: the throughput lost if the server's CPU were the only limit
        cpu_cost = statistics.median(1 - b / a for a, b in zip(cpu[name], cpu[base], strict=True)) * 100
        print(f"{name:22} {rate:9.1f} {rate_cost:6.1f}%   {used:10.0f} {cpu_cost:6.1f}%")


if __name__ == "__main__":
    main()
