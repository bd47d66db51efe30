"""The relay hashes records from pre-encoded halves around `seq`; verification hashes the stored
row with `canonical()`. Both must produce the same bytes for any event, or every chain the
relay writes would fail verification."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from modules.audit.services.chain import canonical, canonical_around_seq, crud_of, record_of
from platform_core.events import Actor, Event, Subject

EVENTS = [
    Event(type="identity.person.created", subject=Subject(type="person", id="p-1", name="Ada")),
    Event(
        type="billing.invoice.paid",
        subject=Subject(type="invoice", id="inv-9"),
        actor=Actor(type="person", id=str(uuid.uuid4()), name='Zoë "quotes" \\ O\'Neil'),
        data={
            "seq": 0,  # a nested key named like the chain position, before it in sort order
            "z": {"seq": 7, "b": [1, 2.5, None, True]},
            "outcome": "failure",
            "amount_minor": 10**15,
            "note": '"seq":0, ünïcødé ✓ \u2028',
        },
        org_id=uuid.uuid4(),
        source_ip="2001:db8::1",
        user_agent='agent "seq":0, and "seq":1,',
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5))),
    ),
    Event(
        type="organization.member.removed",
        subject=Subject(type="member", id="m-1", name=None),
        data={},
        source_ip="203.0.113.7",
        occurred_at=datetime(2026, 6, 1, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("seq", [1, 42, 10**12])
def test_split_encoding_equals_canonical(event: Event, seq: int) -> None:
    record = record_of(event)
    record["seq"] = seq
    before, after = canonical_around_seq(
        event.event_id, event.org_id, event.type, crud_of(event.type), record["outcome"],
        event.actor.type, event.actor.id, event.actor.name,
        event.subject.type, event.subject.id, event.subject.name,
        record["source_ip"], event.user_agent, event.version, event.data, event.occurred_at,
    )  # fmt: skip
    assert before + str(seq).encode() + after == canonical(record)
