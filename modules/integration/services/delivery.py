"""The `integration` relay's handler: POST each claimed delivery to its endpoint, signed per
Standard Webhooks; 2xx is delivered, anything else is retried with backoff until `dead`.

Requests run concurrently inside the relay's delivery transaction (the rows stay locked and
leased meanwhile), with a short timeout, so a batch never outlives its lease (see
`BATCH_SIZE`). Redirects are not followed: a redirect counts as a failure."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection
from standardwebhooks.webhooks import Webhook

from modules.integration.services.urls import points_inside
from platform_core.core.config import get_settings
from platform_core.messaging.outbox import OutboxRow, RowFailures
from platform_core.persistence.db import driver_of

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CONCURRENCY = 16
BATCH_SIZE = 32  # at most two rounds of 10 s timeouts per batch: well inside a 60 s lease
# Retries back off from 30 s, doubling up to the relay's one-hour cap, with full jitter: a
# receiver may be down for roughly half a day before its deliveries are `dead`.
MAX_ATTEMPTS = 20
BACKOFF_BASE_SECONDS = 30.0
USER_AGENT = "Keel-Webhooks/1"
RETURNING = "o.id, o.endpoint_id, o.event_id, o.payload::text AS body"
ERROR_SNIPPET = 200

_ENDPOINTS = """
    SELECT id, url, status, secret,
           CASE WHEN previous_secret_expires_at > now() THEN previous_secret END AS previous_secret
      FROM integration.webhook_endpoints WHERE id = ANY($1::uuid[])"""
_RECORD_ATTEMPTS = """
    UPDATE integration.integration_outbox AS o
       SET last_response_status = a.status, last_attempt_at = now(), destination = a.url
      FROM unnest($1::uuid[], $2::int[], $3::text[]) AS a(id, status, url)
     WHERE o.id = a.id"""


@dataclass(frozen=True)
class Attempt:
    row_id: uuid.UUID
    url: str
    status: int | None = None  # the HTTP status, if an answer came
    error: str | None = None  # None: delivered


def signature(secrets: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """`v1,<base64>` per valid secret, space-separated: receivers accept any one of them."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets)


class Sender:
    def __init__(self, client: httpx.AsyncClient, endpoints: Mapping[uuid.UUID, Any], guard_addresses: bool):
        self.client = client
        self.endpoints = endpoints
        self.guard_addresses = guard_addresses
        self.slots = asyncio.Semaphore(CONCURRENCY)

    async def send(self, row: OutboxRow) -> Attempt:
        endpoint = self.endpoints[row["endpoint_id"]]  # deleting an endpoint deletes its deliveries
        url = endpoint["url"]
        if endpoint["status"] != "enabled":
            return Attempt(row["id"], url, error="the endpoint is disabled")
        if self.guard_addresses and await points_inside(url):
            return Attempt(row["id"], url, error="the endpoint resolves to a non-public address")
        msg_id = str(row["event_id"])
        now = datetime.now(UTC)
        secrets = [s for s in (endpoint["secret"], endpoint["previous_secret"]) if s]
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature(secrets, msg_id, now, row["body"]),
        }
        async with self.slots:
            try:
                async with self.client.stream("POST", url, content=row["body"], headers=headers) as response:
                    if response.is_success:
                        return Attempt(row["id"], url, response.status_code)
                    snippet = await _first_bytes(response)
                    error = f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
                    return Attempt(row["id"], url, response.status_code, error)
            except httpx.HTTPError as exc:
                return Attempt(row["id"], url, error=f"{type(exc).__name__}: {exc or 'no answer'}")


async def _first_bytes(response: httpx.Response) -> str:
    async for chunk in response.aiter_bytes():
        return chunk[:ERROR_SNIPPET].decode(errors="replace").strip()
    return ""


async def deliver_batch(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> RowFailures:
    """The relay handler. In production an endpoint that resolves to a private, loopback or
    link-local address at the time of delivery is refused."""
    driver = await driver_of(conn)
    endpoint_ids = list({row["endpoint_id"] for row in rows})
    endpoints = {e["id"]: e for e in await driver.fetch(_ENDPOINTS, endpoint_ids)}
    guard_addresses = get_settings().environment == "production"
    async with httpx.AsyncClient(
        timeout=TIMEOUT, follow_redirects=False, headers={"user-agent": USER_AGENT}
    ) as client:
        sender = Sender(client, endpoints, guard_addresses)
        attempts = await asyncio.gather(*(sender.send(row) for row in rows))
    await driver.execute(
        _RECORD_ATTEMPTS,
        [a.row_id for a in attempts],
        [a.status for a in attempts],
        [a.url for a in attempts],
    )
    return {a.row_id: a.error for a in attempts if a.error is not None}
