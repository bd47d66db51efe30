"""The hot caches' own rules: tagged invalidation, TTL, the read ticket that keeps a raced read
out, bypass while not listening, and NOTIFY payload splitting."""

from __future__ import annotations

import asyncio
import time

import pytest

from platform_core.cache import hot_cache
from platform_core.cache.hot_cache import HotCache, HotCaches, notify_payloads
from platform_core.persistence.db import asyncpg_dsn


@pytest.fixture
def caches() -> HotCaches:
    found = HotCaches(dsn=None)  # no listener: mark it coherent by hand
    found.coherent = True
    return found


def test_tags_drop_only_their_entries(caches: HotCaches) -> None:
    cache: HotCache[str, int] = caches.cache("t", ttl_seconds=60)
    cache.put("a", 1, ["pool:1"], cache.ticket())
    cache.put("b", 2, ["pool:1", "org:9"], cache.ticket())
    cache.put("c", 3, ["pool:2"], cache.ticket())
    cache.invalidate(["pool:1"])
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, None, 3)
    cache.invalidate(None)
    assert cache.get("c") is None


def test_a_read_that_raced_an_invalidation_is_not_cached(caches: HotCaches) -> None:
    cache: HotCache[str, str] = caches.cache("t", ttl_seconds=60)
    ticket = cache.ticket()  # a request starts reading the database...
    cache.invalidate(["pool:1"])  # ...a write to that pool commits meanwhile...
    cache.put("a", "old value", ["pool:1"], ticket)  # ...its old value must not be served
    assert cache.get("a") is None
    cache.put("b", "other pool", ["pool:2"], ticket)  # unrelated tags are unaffected
    assert cache.get("b") == "other pool"
    ticket = cache.ticket()
    cache.invalidate(None)
    cache.put("b", "old value", ["pool:2"], ticket)
    assert cache.get("b") is None


def test_entries_expire(caches: HotCaches) -> None:
    cache: HotCache[str, int] = caches.cache("short", ttl_seconds=0.05)
    cache.put("a", 1, [], cache.ticket())
    assert cache.get("a") == 1
    time.sleep(0.06)
    assert cache.get("a") is None


def test_nothing_is_served_or_kept_while_not_listening(caches: HotCaches) -> None:
    cache: HotCache[str, int] = caches.cache("t", ttl_seconds=60)
    cache.put("a", 1, [], cache.ticket())
    caches.coherent = False
    assert cache.get("a") is None
    cache.put("b", 2, [], cache.ticket())
    caches.coherent = True
    assert cache.get("b") is None


def test_payloads_stay_under_the_notify_limit() -> None:
    tags = [f"pool:{n:036d}" for n in range(1000)]
    payloads = notify_payloads("entitlements.check", tags)
    assert len(payloads) > 1
    assert all(len(p) < 8000 for p in payloads)
    assert [t for p in payloads for t in p.split("\t")[1:]] == tags
    assert notify_payloads("x", None) == ["x\t*"]


async def test_close_returns_after_the_loop_was_blocked_past_a_ping(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancellation landing in the same loop iteration as the listener's ping timeout used to be
    dropped (asyncio.wait_for on 3.11), so close() waited forever at shutdown."""
    monkeypatch.setattr(hot_cache, "_PING_SECONDS", 0.05)
    caches = HotCaches(dsn=asyncpg_dsn(db_url))
    caches._ensure_listening()
    for _ in range(100):
        if caches.coherent:
            break
        await asyncio.sleep(0.05)
    assert caches.coherent
    for _ in range(5):
        time.sleep(0.1)  # a long synchronous step: the ping's timer is due when close() cancels
        await asyncio.wait_for(caches.close(), timeout=5)
        assert not caches.coherent
        caches._ensure_listening()
        await asyncio.sleep(0.3)
    await asyncio.wait_for(caches.close(), timeout=5)
