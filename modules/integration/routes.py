"""An organization's webhook endpoints and their delivery logs, under /integration."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.integration import permissions as perm
from modules.integration.contracts import (
    DeliveryDTO,
    DeliveryStatus,
    EndpointWithSecretDTO,
    WebhookEndpointDTO,
)
from modules.integration.schemas import CreateEndpoint, UpdateEndpoint
from modules.integration.services import deliveries, endpoints
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit

EndpointId = FromPath[uuid.UUID]


class WebhookEndpointController(Controller):
    path = "/integration/orgs/{org_id:uuid}/webhook-endpoints"
    tags = ["integration"]

    @post(
        "/",
        guards=[requires(perm.WEBHOOKS_WRITE)],
        status_code=201,
        summary="Create a webhook endpoint (its signing secret is shown only in this answer)",
    )
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateEndpoint],
        uow: NamedDependency[UnitOfWork],
    ) -> EndpointWithSecretDTO:
        return await endpoints.create_endpoint(
            uow, org_id, url=data.url, event_types=data.event_types, description=data.description
        )

    @get("/", guards=[requires(perm.WEBHOOKS_READ)], summary="List webhook endpoints")
    async def list_endpoints(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[WebhookEndpointDTO]:
        return await endpoints.list_endpoints(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @get("/{endpoint_id:uuid}", guards=[requires(perm.WEBHOOKS_READ)], summary="Get a webhook endpoint")
    async def get_endpoint(
        self, org_id: FromPath[uuid.UUID], endpoint_id: EndpointId, uow: NamedDependency[UnitOfWork]
    ) -> WebhookEndpointDTO:
        return await endpoints.get_endpoint(uow, org_id, endpoint_id)

    @patch(
        "/{endpoint_id:uuid}",
        guards=[requires(perm.WEBHOOKS_WRITE)],
        summary="Change an endpoint's URL, event types, description or status (only the fields sent)",
    )
    async def update(
        self,
        org_id: FromPath[uuid.UUID],
        endpoint_id: EndpointId,
        data: JSONBody[UpdateEndpoint],
        uow: NamedDependency[UnitOfWork],
    ) -> WebhookEndpointDTO:
        return await endpoints.update_endpoint(uow, org_id, endpoint_id, data)

    @delete(
        "/{endpoint_id:uuid}",
        guards=[requires(perm.WEBHOOKS_WRITE)],
        status_code=204,
        summary="Delete an endpoint and its delivery log",
    )
    async def remove(
        self, org_id: FromPath[uuid.UUID], endpoint_id: EndpointId, uow: NamedDependency[UnitOfWork]
    ) -> None:
        await endpoints.delete_endpoint(uow, org_id, endpoint_id)

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        guards=[requires(perm.WEBHOOKS_WRITE)],
        status_code=200,
        summary="Issue a new signing secret; the current one keeps signing for 24 hours",
    )
    async def rotate_secret(
        self,
        org_id: FromPath[uuid.UUID],
        endpoint_id: EndpointId,
        uow: NamedDependency[UnitOfWork],
    ) -> EndpointWithSecretDTO:
        return await endpoints.rotate_secret(uow, org_id, endpoint_id)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        guards=[requires(perm.WEBHOOKS_READ)],
        summary="The endpoint's deliveries, newest first",
    )
    async def list_deliveries(
        self,
        org_id: FromPath[uuid.UUID],
        endpoint_id: EndpointId,
        uow: NamedDependency[UnitOfWork],
        status: FromQuery[DeliveryStatus | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[DeliveryDTO]:
        return await deliveries.list_deliveries(
            uow, org_id, endpoint_id, status=status, limit=check_limit(limit), cursor=cursor
        )

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/retry",
        guards=[requires(perm.WEBHOOKS_WRITE)],
        status_code=200,
        summary="Send a delivery again now (failed, dead or delivered)",
    )
    async def retry(
        self,
        org_id: FromPath[uuid.UUID],
        endpoint_id: EndpointId,
        delivery_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> DeliveryDTO:
        return await deliveries.retry_delivery(uow, org_id, endpoint_id, delivery_id)


CONTROLLERS = [WebhookEndpointController]
