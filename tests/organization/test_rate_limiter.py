from __future__ import annotations

import uuid

from redis.asyncio import Redis

from platform_core.auth.rate_limit import RateLimiter
from platform_core.runtime.runtime import Runtime


async def test_fixed_minute_windows(runtime: Runtime) -> None:
    limiter = RateLimiter(runtime.redis)
    subject = f"test:{uuid.uuid4()}"
    start = 1_900_000_040.0  # 20 s into a minute (1_900_000_020 is a minute boundary)
    decisions = [await limiter.hit(subject, 2, now=start + i) for i in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3]
    assert decisions[2].retry_after == 38  # until the minute ends
    # the next minute starts a fresh budget; other subjects never shared this one
    assert (await limiter.hit(subject, 2, now=start + 40)).allowed
    assert (await limiter.hit(f"{subject}:other", 2, now=start)).count == 1
    ttl = await runtime.redis.ttl(f"keel:rate:{subject}:{int(start // 60)}")
    assert 0 < ttl <= 120  # counters expire on their own


async def test_unreachable_redis_fails_open() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        decision = await RateLimiter(unreachable).hit("anyone", 1)
    finally:
        await unreachable.aclose()
    assert decision.allowed
    assert decision.count == 0
