"""One drain per relay at a time on a worker's loop (messaging.broker.OneDrainPerRelay): a slow
relay (webhooks to slow receivers) must not take every worker thread from the others."""

from __future__ import annotations

import asyncio

import pytest

from platform_core.messaging.broker import OneDrainPerRelay


async def test_a_second_drain_of_a_busy_relay_returns_at_once_and_others_run() -> None:
    in_flight = OneDrainPerRelay()
    release = asyncio.Event()
    ran: list[str] = []

    async def slow() -> None:
        ran.append("integration")
        await release.wait()

    async def quick() -> None:
        ran.append("audit")

    first = asyncio.create_task(in_flight.run("integration", slow))
    await asyncio.sleep(0)
    assert await asyncio.wait_for(in_flight.run("integration", slow), timeout=1) is False
    assert await in_flight.run("audit", quick) is True
    release.set()
    assert await first is True
    assert ran == ["integration", "audit"]
    assert await asyncio.wait_for(in_flight.run("integration", quick), timeout=1) is True


async def test_a_failed_drain_frees_its_relay() -> None:
    in_flight = OneDrainPerRelay()

    async def broken() -> None:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        await in_flight.run("audit", broken)
    ran: list[bool] = []

    async def quick() -> None:
        ran.append(True)

    assert await in_flight.run("audit", quick) is True
    assert ran == [True]
