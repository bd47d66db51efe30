"""A link covers the digest of the canonical bytes the database computes from a record's columns
(`audit.canonical_record`). It must be the same for the outbox row the relay links (a generated
column) and for the log row `verify` re-reads, whatever the session's TimeZone, for awkward
values too; and any change to a covered column must change the bytes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import msgspec
from sqlalchemy import insert, text

from modules.audit.models import AuditOutbox, record_digest_sql
from modules.audit.services.capture import outbox_row
from modules.audit.services.queries import verify_chains
from platform_core.core.principal import Actor
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.outbox import OutboxRelay
from platform_core.persistence.db import create_sessionmaker
from platform_core.runtime.runtime import Runtime

ORG = uuid.uuid4()
EVENTS = [
    Event(type="identity.person.created", subject=Subject(type="person", id="p-1", name="Ada"), org_id=ORG),
    Event(
        type="billing.invoice.paid",
        subject=Subject(type="invoice", id="inv-9"),
        actor=Actor(type="person", id=str(uuid.uuid4()), name='Zoë "quotes" \\ O\'Neil'),
        data={
            "z": {"seq": 7, "b": [1, 2.5, None, True, 1e20, 1e-7]},
            "outcome": "failure",
            "amount_minor": 10**15,
            "note": "ünïcødé ✓ \u2028 \x01",
        },
        org_id=ORG,
        source_ip="2001:db8::1",
        user_agent='agent "seq":0,',
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5))),
    ),
    Event(
        type="organization.member.removed",
        subject=Subject(type="member", id="m-1", name=None),
        data={},
        org_id=ORG,
        source_ip="not an address",
        occurred_at=datetime(2026, 6, 1, tzinfo=UTC),
    ),
]


async def digests(runtime: Runtime, table: str, time_zone: str, expression: str = "") -> list[bytes]:
    """Record digests of ORG's rows in `table`, recomputed (or read: `expression`) in `time_zone`."""
    select_list = expression or record_digest_sql("r")
    query = f"SELECT {select_list} FROM audit.{table} r WHERE org_id = :org ORDER BY occurred_at"
    async with runtime.engine.begin() as conn:
        await conn.execute(text(f"SET LOCAL TIME ZONE '{time_zone}'"))
        return list((await conn.execute(text(query), {"org": ORG})).scalars())


async def test_outbox_and_log_rows_give_the_same_digest_in_any_time_zone(runtime: Runtime) -> None:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    async with runtime.engine.begin() as conn:
        await conn.execute(text("SET LOCAL TIME ZONE 'Pacific/Chatham'"))
        await conn.execute(insert(AuditOutbox.__table__), [outbox_row(e) for e in EVENTS])
    staged = await digests(runtime, "audit_outbox", "UTC", expression="r.record_digest")
    assert len(set(staged)) == len(EVENTS)
    assert await digests(runtime, "audit_outbox", "Asia/Kolkata") == staged

    await OutboxRelay(runtime.engine, spec, runtime.tuning).drain(time_budget_seconds=60)
    assert await digests(runtime, "audit_logs", "America/St_Johns") == staged
    async with create_sessionmaker(runtime.engine)() as session:
        result = await verify_chains(session, org_id=ORG)
    assert (result.ok, result.checked) == (True, len(EVENTS))


CANONICAL_OF_VALUES = text(
    "SELECT audit.canonical_record(:event_id, :org_id, :action, :crud, :outcome, :actor_type, :actor_id,"
    " :actor_name, :target_type, :target_id, :target_name, CAST(:source_ip AS inet), :user_agent,"
    " :event_version, CAST(:metadata AS jsonb), :occurred_at)"
)


async def test_every_covered_column_changes_the_bytes(runtime: Runtime) -> None:
    row = outbox_row(EVENTS[1])
    metadata = row["metadata"]
    row["metadata"] = msgspec.json.encode(metadata).decode()
    del row["id"]
    changes = {
        "event_id": uuid.uuid4(), "org_id": uuid.uuid4(), "action": "billing.invoice.voided", "crud": "d",
        "outcome": "success", "actor_type": "service_account", "actor_id": "x", "actor_name": "Zoe",
        "target_type": "credit_note", "target_id": "inv-8", "target_name": "named",
        "source_ip": "2001:db8::2", "user_agent": "other", "event_version": 2,
        "metadata": msgspec.json.encode({**metadata, "amount_minor": 1}).decode(),
        "occurred_at": row["occurred_at"] + timedelta(microseconds=1),
    }  # fmt: skip
    assert set(changes) == set(row)
    variants = [row] + [{**row, column: value} for column, value in changes.items()]
    async with runtime.engine.connect() as conn:
        produced = [(await conn.execute(CANONICAL_OF_VALUES, v)).scalar_one() for v in variants]
    assert len(set(produced)) == len(variants)
