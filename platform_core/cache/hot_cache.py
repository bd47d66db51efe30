"""Per-process caches of database reads on the hot paths (credentials, RBAC decisions,
materialized entitlement rows), kept coherent across processes by PostgreSQL LISTEN/NOTIFY.

A write that changes what a cache holds calls `UnitOfWork.invalidate(cache, tags)`: that sends
a NOTIFY inside the writing transaction, so every process hears of it exactly when (and only if)
the transaction commits, and the writing process also drops the entries itself right after its
commit, before it answers. A cache serves entries only while this process is listening; when
the listening connection is lost every cache is emptied and bypassed until it is back, since
notifications may have been missed meanwhile. A TTL bounds the life of every entry regardless.

A read that raced a write cannot repopulate a cache with the old value: `ticket()` is taken
before the database read, and `put` refuses the value if an invalidation touching its tags (or
the whole cache) arrived after the ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import asyncpg
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from platform_core.core.outages import is_outage

log = logging.getLogger(__name__)

CHANNEL = "keel_cache"
SESSION_INFO_KEY = "keel.hot_caches"  # where the runtime's sessions carry the caches
_ALL = "*"
_PAYLOAD_LIMIT = 7000  # NOTIFY payloads must stay under 8000 bytes
_PING_SECONDS = 10.0
_MAX_TRACKED_TAGS = 50_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class HotCache(Generic[K, V]):
    """Entries are tagged (e.g. with the pool or credential they were read from) so that one
    invalidation can drop every entry that depends on a row."""

    def __init__(self, name: str, ttl_seconds: float, max_entries: int, caches: HotCaches) -> None:
        self.name = name
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._caches = caches
        self._entries: dict[K, tuple[V, float, tuple[str, ...]]] = {}
        self._by_tag: dict[str, set[K]] = {}
        self._seq = 0  # invalidations seen so far
        self._all_at = 0  # seq of the last whole-cache invalidation
        self._tag_at: dict[str, int] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key) if self._caches.coherent else None
        if entry is None or entry[1] < time.monotonic():
            self.misses += 1
            return None
        self.hits += 1
        return entry[0]

    def ticket(self) -> int:
        """Take before reading the database; pass to `put`."""
        return self._seq

    def put(self, key: K, value: V, tags: Iterable[str], ticket: int) -> None:
        tags = tuple(tags)
        if not self._caches.coherent or self._all_at > ticket:
            return
        if any(self._tag_at.get(tag, 0) > ticket for tag in tags):
            return
        if len(self._entries) >= self.max_entries:
            self.clear()
        self._entries[key] = (value, time.monotonic() + self.ttl, tags)
        for tag in tags:
            self._by_tag.setdefault(tag, set()).add(key)

    def invalidate(self, tags: Iterable[str] | None = None) -> None:
        """Drop the entries carrying any of `tags`; None drops everything."""
        self._seq += 1
        if tags is None:
            self._all_at = self._seq
            self._entries.clear()
            self._by_tag.clear()
            self._tag_at.clear()
            return
        if len(self._tag_at) > _MAX_TRACKED_TAGS:
            self._all_at = self._seq
            self._tag_at.clear()
        for tag in tags:
            self._tag_at[tag] = self._seq
            for key in self._by_tag.pop(tag, ()):
                entry = self._entries.pop(key, None)
                if entry is not None:
                    for other in entry[2]:
                        if other != tag and (keys := self._by_tag.get(other)) is not None:
                            keys.discard(key)

    def clear(self) -> None:
        self.invalidate(None)


def notify_payloads(cache: str, tags: Iterable[str] | None) -> list[str]:
    """NOTIFY payloads announcing an invalidation: `cache` then tab-separated tags (`*`: all),
    split so that each stays under PostgreSQL's payload limit."""
    if tags is None:
        return [f"{cache}\t{_ALL}"]
    payloads: list[str] = []
    current = cache
    for tag in tags:
        if len(current) + len(tag) + 1 > _PAYLOAD_LIMIT:
            payloads.append(current)
            current = cache
        current += "\t" + tag
    if current != cache:
        payloads.append(current)
    return payloads


def caches_of(session: Any) -> HotCaches | None:
    """The hot caches of the runtime that made `session` (an AsyncSession), if any."""
    found = session.info.get(SESSION_INFO_KEY)
    return found if isinstance(found, HotCaches) else None


class HotCaches:
    """The process's caches and the connection that listens for their invalidations. The
    listener starts on first use inside an event loop, and stops with `close()`."""

    def __init__(self, dsn: str | None) -> None:
        _LIVE.add(self)
        self._dsn = dsn
        self._caches: dict[str, HotCache[Any, Any]] = {}
        self.coherent = False
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        self._lost: asyncio.Event | None = None

    def cache(self, name: str, *, ttl_seconds: float, max_entries: int = 100_000) -> HotCache[Any, Any]:
        found = self._caches.get(name)
        if found is None:
            found = self._caches[name] = HotCache(name, ttl_seconds, max_entries, self)
        self._ensure_listening()
        return found

    def invalidate_locally(self, cache: str, tags: Iterable[str] | None) -> None:
        """Drop entries now. Only from the listener's event loop (the caches are not shared
        with other threads); elsewhere the NOTIFY reaches the listener a moment later."""
        found = self._caches.get(cache)
        if found is None or self._task is None:
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            return
        if here is self._task.get_loop():
            found.invalidate(tags)

    def stats(self) -> dict[str, tuple[int, int, int]]:
        """Per cache: entries, hits, misses."""
        return {name: (len(c._entries), c.hits, c.misses) for name, c in self._caches.items()}

    def _ensure_listening(self) -> None:
        if self._task is not None or self._dsn is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._listen_forever(), name="keel-hot-cache-listener")

    def clear(self) -> None:
        """Empty every cache of this process (after out-of-band SQL; other processes are told
        by `SELECT pg_notify('keel_cache', '*')`)."""
        for found in self._caches.values():
            found.clear()

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == _ALL:
            self.clear()
            return
        cache, *tags = payload.split("\t")
        found = self._caches.get(cache)
        if found is not None:
            found.invalidate(None if tags == [_ALL] else tags)

    async def _listen_forever(self) -> None:
        assert self._dsn is not None
        delay = 0.5
        while True:
            lost = self._lost = asyncio.Event()
            try:
                conn = self._connection = await asyncpg.connect(self._dsn)
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())  # type: ignore[misc]
                await conn.add_listener(CHANNEL, self._on_notification)
                self.clear()  # whatever was cached before may have missed notifications
                self.coherent = True
                delay = 0.5
                while not lost.is_set():
                    # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancellation that
                    # lands in the same loop iteration as its timeout, and close() then waits forever
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_PING_SECONDS):
                            await lost.wait()
                    if not lost.is_set():
                        async with asyncio.timeout(_PING_SECONDS):
                            await conn.execute("SELECT 1")
                log.warning("hot caches: invalidation listener lost; caches bypassed until it is back")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_outage(exc):  # the database is down or restarting: expected, and retried
                    log.warning("hot caches: invalidation listener down (%r); caches bypassed", exc)
                else:
                    log.warning("hot caches: invalidation listener failed; caches bypassed", exc_info=True)
            finally:
                self.coherent = False
                self.clear()
                if self._connection is not None:
                    with contextlib.suppress(Exception):
                        self._connection.terminate()
                    self._connection = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            try:
                await asyncio.wait({task}, timeout=1.0)
            except RuntimeError:  # the listener belongs to another, closed event loop
                break
        self.coherent = False
        self.clear()


_LIVE: weakref.WeakSet[HotCaches] = weakref.WeakSet()


class _HotCacheCollector(Collector):
    """`keel_hot_cache_*` series for /metrics, read at scrape time (nothing on the hot path)."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        lookups = CounterMetricFamily(
            "keel_hot_cache_lookups", "Hot cache lookups by result", labels=["cache", "result"]
        )
        entries = GaugeMetricFamily("keel_hot_cache_entries", "Entries held", labels=["cache"])
        coherent = GaugeMetricFamily(
            "keel_hot_cache_listening", "1 while the invalidation listener is connected (caches in use)"
        )
        totals: dict[str, list[int]] = {}
        listening = 0
        for caches in list(_LIVE):
            listening = max(listening, int(caches.coherent))
            for name, (size, hits, misses) in caches.stats().items():
                total = totals.setdefault(name, [0, 0, 0])
                total[0] += size
                total[1] += hits
                total[2] += misses
        for name, (size, hits, misses) in sorted(totals.items()):
            lookups.add_metric([name, "hit"], hits)
            lookups.add_metric([name, "miss"], misses)
            entries.add_metric([name], size)
        coherent.add_metric([], listening)
        yield lookups
        yield entries
        yield coherent


REGISTRY.register(_HotCacheCollector())
