"""`GET /ready`: can this process serve requests?

Ready means the database answers: 200, else 503 problem+json with `Retry-After`. The broker
(Redis) is checked and reported, but does not decide: the API serves without it (nudges are
dropped and the workers' sweep delivers later; rate limiting fails open or closed on its own),
so a Redis outage must not take every API process out of the load balancer. Each check is
bounded by `KEEL_READY_CHECK_TIMEOUT_SECONDS`, and the two run at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal, cast

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from sqlalchemy import text

from platform_core.core.errors import problem_response
from platform_core.core.outages import RETRY_AFTER_SECONDS
from platform_core.runtime.runtime import Runtime

_SELECT_1 = text("SELECT 1")

CheckResult = Literal["ok", "down"]


class ReadinessChecks(msgspec.Struct, frozen=True):
    database: CheckResult
    broker: CheckResult


class Readiness(msgspec.Struct, frozen=True):
    status: Literal["ready"]
    checks: ReadinessChecks


async def _database(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        await conn.execute(_SELECT_1)


async def _broker(runtime: Runtime) -> None:
    await runtime.redis.ping()


async def _check(probe: Awaitable[None], within_seconds: float) -> CheckResult:
    try:
        async with asyncio.timeout(within_seconds):
            await probe
    except Exception:  # refused, closed, timed out: any failure means "not now"
        return "down"
    return "ok"


@get(
    "/ready",
    tags=["ops"],
    summary="Readiness: this process can serve (the database answers)",
    description="200 when the database answers, 503 otherwise. The broker is reported in "
    "`checks` but never makes the process unready: the API serves without it.",
)
async def ready(state: State) -> Response[Readiness]:
    runtime: Runtime = state.runtime
    timeout = runtime.settings.ready_check_timeout_seconds
    database, broker = await asyncio.gather(
        _check(_database(runtime), timeout), _check(_broker(runtime), timeout)
    )
    checks = ReadinessChecks(database=database, broker=broker)
    if database == "ok":
        return Response(Readiness(status="ready", checks=checks))
    response = problem_response(
        503,
        "not_ready",
        "Service not ready",
        "the database does not answer",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    response.content["checks"] = msgspec.to_builtins(checks)
    return cast(Response[Readiness], response)  # the 503 is documented as a problem
