"""An endpoint's delivery log, and sending a delivery again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select

from modules.integration.contracts import DELIVERY_RETRIED, DeliveryDTO, DeliveryStatus
from modules.integration.models import IntegrationOutbox
from modules.integration.services.endpoints import get_endpoint_row
from modules.integration.services.fanout import RELAY_NAME
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

LOG_RETENTION = timedelta(days=30)
PURGE_BATCH = 5000


def delivery_dto(d: IntegrationOutbox) -> DeliveryDTO:
    return DeliveryDTO(
        id=d.id,
        endpoint_id=d.endpoint_id,
        event_id=d.event_id,
        event_type=d.topic,
        url=d.destination,
        status=d.status,  # type: ignore[arg-type]
        attempts=d.attempts,
        last_error=d.last_error,
        last_response_status=d.last_response_status,
        last_attempt_at=d.last_attempt_at,
        next_attempt_at=d.next_attempt_at if d.status in ("pending", "failed") else None,
        delivered_at=d.delivered_at,
        created_at=d.created_at,
    )


async def list_deliveries(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[DeliveryDTO]:
    """Newest first."""
    await get_endpoint_row(uow, org_id, endpoint_id)
    stmt = select(IntegrationOutbox).where(IntegrationOutbox.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(IntegrationOutbox.status == status)
    stmt = keyset(stmt, [IntegrationOutbox.__table__.c.id], cursor=cursor, limit=limit, descending=True)
    rows = list((await uow.session.scalars(stmt)).all())
    return page_of(rows, limit, lambda d: [str(d.id)], delivery_dto)


async def retry_delivery(
    uow: UnitOfWork, org_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryDTO:
    """Send a failed, dead or delivered delivery again now, with a fresh attempt budget."""
    await get_endpoint_row(uow, org_id, endpoint_id)
    delivery = await uow.session.scalar(
        select(IntegrationOutbox)
        .where(IntegrationOutbox.id == delivery_id, IntegrationOutbox.endpoint_id == endpoint_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} does not exist", code="delivery_not_found")
    if delivery.status == "pending":
        raise Conflict("the delivery is already waiting to be sent", code="delivery_pending")
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.claimed_by = None
    delivery.lease_expires_at = None
    await uow.session.flush()
    await uow.session.refresh(delivery)
    await uow.emit(
        DELIVERY_RETRIED,
        subject=Subject(type="webhook_delivery", id=str(delivery.id), name=delivery.topic),
        data={"endpoint_id": str(endpoint_id), "event_id": str(delivery.event_id)},
        org_id=org_id,
    )
    uow.request_drain(RELAY_NAME)
    return delivery_dto(delivery)


async def purge_old_deliveries(uow: UnitOfWork) -> int:
    """Delete up to `PURGE_BATCH` delivered or dead deliveries older than `LOG_RETENTION`."""
    old = (
        select(IntegrationOutbox.id)
        .where(
            IntegrationOutbox.status.in_(("delivered", "dead")),
            IntegrationOutbox.created_at < func.now() - LOG_RETENTION,
        )
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    result = await uow.session.execute(
        delete(IntegrationOutbox).where(IntegrationOutbox.id.in_(old.scalar_subquery()))
    )
    deleted: int = result.rowcount  # type: ignore[attr-defined]
    return deleted
