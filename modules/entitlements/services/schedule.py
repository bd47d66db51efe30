"""Materialized schedules: from provision windows to a list of segments with one value each.

Materialization stores every segment that has not ended yet, so a check or an ingest finds
the value in force at any instant without a job having run at the boundary. Pure functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from modules.entitlements.contracts import Segment


class Window(NamedTuple):
    start: datetime
    end: datetime | None
    value: Any
    priority: tuple[Any, ...] = ()


Combine = Callable[[Sequence[Window]], Segment]


def _covers(window: Window, start: datetime) -> bool:
    """Does `window` cover the interval starting at `start`? Intervals run between adjacent
    boundaries and never straddle one, so containing the interval's start is enough."""
    return window.start <= start and (window.end is None or start < window.end)


def build(windows: Sequence[Window], now: datetime, combine: Combine) -> list[Segment]:
    """Segments covering every instant that at least one window covers, from the segment in
    force at `now` onwards; adjacent segments with equal values merge."""
    points = sorted({w.start for w in windows} | {w.end for w in windows if w.end is not None})
    segments: list[Segment] = []
    bounds: list[datetime | None] = [*points, None]
    for i, start in enumerate(points):
        end = bounds[i + 1]
        if end is not None and end <= now:
            continue
        covering = [w for w in windows if _covers(w, start)]
        if not covering:
            continue
        seg = combine(covering)
        seg = msgspec.structs.replace(seg, start=start, end=end)
        last = segments[-1] if segments else None
        if last is not None and last.end == start and last.limit == seg.limit and last.value == seg.value:
            segments[-1] = msgspec.structs.replace(last, end=end)
        else:
            segments.append(seg)
    return segments


def sum_limits(windows: Sequence[Window]) -> Segment:
    total = sum((Decimal(w.value) for w in windows), Decimal(0))
    return Segment(limit=total)


def latest_value(windows: Sequence[Window]) -> Segment:
    """Config values do not add up: the most recently started provision's value wins."""
    winner = max(windows, key=lambda w: (w.start, w.priority))
    return Segment(value=winner.value)


def at(segments: Sequence[Segment], instant: datetime) -> Segment | None:
    for seg in segments:
        if (seg.start is None or seg.start <= instant) and (seg.end is None or instant < seg.end):
            return seg
    return None


def next_change(segments: Sequence[Segment], now: datetime) -> datetime | None:
    """The first boundary after `now` where the materialized value changes."""
    times = [t for seg in segments for t in (seg.start, seg.end) if t is not None and t > now]
    return min(times) if times else None


_DECODER = msgspec.json.Decoder(list[Segment])


def to_json(segments: Sequence[Segment]) -> list[Any]:
    return list(msgspec.to_builtins(list(segments)))


def decode(raw: str | bytes | list[Any]) -> list[Segment]:
    if isinstance(raw, list):
        return msgspec.convert(raw, list[Segment])
    return _DECODER.decode(raw)
