"""An organization's webhook endpoints: where its events are sent, and with which secret."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from modules.integration.contracts import (
    ENDPOINT_CREATED,
    ENDPOINT_DELETED,
    ENDPOINT_SECRET_ROTATED,
    ENDPOINT_UPDATED,
    SECRET_PREFIX,
    EndpointWithSecretDTO,
    WebhookEndpointDTO,
)
from modules.integration.models import WebhookEndpoint
from modules.integration.schemas import UpdateEndpoint
from modules.integration.services.endpoint_cache import invalidate_endpoints
from modules.integration.services.urls import checked_url
from modules.organization import api as org_api
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.core.patching import apply_patch
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

MAX_ENDPOINTS_PER_ORG = 16
ROTATION_GRACE = timedelta(hours=24)  # a rotated-out secret keeps signing this long


def new_signing_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def endpoint_dto(e: WebhookEndpoint) -> WebhookEndpointDTO:
    return WebhookEndpointDTO(
        id=e.id,
        org_id=e.org_id,
        url=e.url,
        description=e.description,
        event_types=list(e.event_types),
        status=e.status,  # type: ignore[arg-type]
        previous_secret_expires_at=e.previous_secret_expires_at,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def _subject(e: WebhookEndpoint) -> Subject:
    return Subject(type="webhook_endpoint", id=str(e.id), name=e.url)


async def get_endpoint_row(uow: UnitOfWork, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await uow.session.scalar(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.org_id == org_id)
        .execution_options(populate_existing=True)
    )
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist", code="webhook_endpoint_not_found")
    return endpoint


async def _saved(uow: UnitOfWork, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    await uow.session.flush()
    await uow.session.refresh(endpoint)
    await invalidate_endpoints(uow, endpoint.org_id)
    return endpoint


async def create_endpoint(
    uow: UnitOfWork, org_id: uuid.UUID, *, url: str, event_types: list[str], description: str | None
) -> EndpointWithSecretDTO:
    await org_api.get_organization(uow, org_id)  # 404 for an unknown organization
    url = checked_url(url, uow.settings)
    await uow.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(str(org_id), 7))))
    count = await uow.session.scalar(select(func.count()).where(WebhookEndpoint.org_id == org_id))
    if (count or 0) >= MAX_ENDPOINTS_PER_ORG:
        raise Conflict(
            f"an organization may have at most {MAX_ENDPOINTS_PER_ORG} webhook endpoints",
            code="too_many_webhook_endpoints",
        )
    secret = new_signing_secret()
    endpoint = WebhookEndpoint(
        org_id=org_id,
        url=url,
        description=description,
        event_types=sorted(set(event_types)),
        secret=secret,
        created_by=uow.actor.id,
    )
    uow.session.add(endpoint)
    await _saved(uow, endpoint)
    await uow.emit(
        ENDPOINT_CREATED,
        subject=_subject(endpoint),
        data={"url": endpoint.url, "event_types": endpoint.event_types},
        org_id=org_id,
    )
    return EndpointWithSecretDTO(endpoint=endpoint_dto(endpoint), secret=secret)


async def list_endpoints(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[WebhookEndpointDTO]:
    await org_api.get_organization(uow, org_id)
    stmt = keyset(
        select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id),
        [WebhookEndpoint.__table__.c.id],
        cursor=cursor,
        limit=limit,
    )
    rows = list((await uow.session.scalars(stmt)).all())
    return page_of(rows, limit, lambda e: [str(e.id)], endpoint_dto)


async def get_endpoint(uow: UnitOfWork, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpointDTO:
    return endpoint_dto(await get_endpoint_row(uow, org_id, endpoint_id))


async def update_endpoint(
    uow: UnitOfWork, org_id: uuid.UUID, endpoint_id: uuid.UUID, changes: UpdateEndpoint
) -> WebhookEndpointDTO:
    endpoint = await get_endpoint_row(uow, org_id, endpoint_id)
    changed = apply_patch(
        endpoint,
        changes,
        {"url": lambda url: checked_url(url, uow.settings), "event_types": lambda types: sorted(set(types))},
    )
    if not changed:
        return endpoint_dto(endpoint)
    await _saved(uow, endpoint)
    await uow.emit(ENDPOINT_UPDATED, subject=_subject(endpoint), data={"changed": changed}, org_id=org_id)
    return endpoint_dto(endpoint)


async def delete_endpoint(uow: UnitOfWork, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    """Remove the endpoint and every delivery to it, delivered or not."""
    endpoint = await get_endpoint_row(uow, org_id, endpoint_id)
    await uow.session.delete(endpoint)
    await uow.session.flush()
    await invalidate_endpoints(uow, org_id)
    await uow.emit(ENDPOINT_DELETED, subject=_subject(endpoint), data={"url": endpoint.url}, org_id=org_id)


async def rotate_secret(uow: UnitOfWork, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> EndpointWithSecretDTO:
    """A new secret signs from now on; the current one also signs for `ROTATION_GRACE`, so
    receivers can switch without dropping deliveries (a second rotation ends that at once)."""
    endpoint = await get_endpoint_row(uow, org_id, endpoint_id)
    secret = new_signing_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_GRACE
    endpoint.secret = secret
    await _saved(uow, endpoint)
    await uow.emit(
        ENDPOINT_SECRET_ROTATED,
        subject=_subject(endpoint),
        data={"previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat()},
        org_id=org_id,
    )
    return EndpointWithSecretDTO(endpoint=endpoint_dto(endpoint), secret=secret)
