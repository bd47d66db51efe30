"""An organization's subscriptions."""

from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import (
    PlanChangeDTO,
    ScheduledChangeDTO,
    SubscriptionChangeDTO,
    SubscriptionDTO,
    SubscriptionPauseDTO,
)
from modules.billing.schemas import (
    Cancel,
    ChangeQuantity,
    CreateSubscription,
    PauseCollection,
    UpdateSubscription,
)
from modules.billing.services import (
    pauses,
    plan_changes,
    scheduled_changes,
    subscription_changes,
    subscriptions,
)
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit

SubscriptionId = FromPath[uuid.UUID]


class SubscriptionController(Controller):
    path = "/billing/orgs/{org_id:uuid}/subscriptions"
    tags = ["billing"]

    @post(
        "/",
        guards=[requires(perm.SUBSCRIPTIONS_WRITE)],
        status_code=201,
        summary="Subscribe (provisions the products' entitlements into the pool)",
    )
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateSubscription],
        uow: NamedDependency[UnitOfWork],
    ) -> SubscriptionDTO:
        return await subscriptions.create_subscription(uow, org_id, data)

    @get("/", guards=[requires(perm.SUBSCRIPTIONS_READ)], summary="The organization's subscriptions")
    async def list_subscriptions(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[SubscriptionDTO]:
        return await subscriptions.list_subscriptions(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @get("/{subscription_id:uuid}", guards=[requires(perm.SUBSCRIPTIONS_READ)], summary="Get a subscription")
    async def get_one(
        self, org_id: FromPath[uuid.UUID], subscription_id: SubscriptionId, uow: NamedDependency[UnitOfWork]
    ) -> SubscriptionDTO:
        return await subscriptions.get_subscription(uow, org_id, subscription_id)

    @patch(
        "/{subscription_id:uuid}/items/{item_id:uuid}",
        guards=[requires(perm.SUBSCRIPTIONS_WRITE)],
        summary="Change an item's quantity (prorated for the rest of the period)",
    )
    async def change_quantity(
        self,
        org_id: FromPath[uuid.UUID],
        subscription_id: SubscriptionId,
        item_id: FromPath[uuid.UUID],
        data: JSONBody[ChangeQuantity],
        uow: NamedDependency[UnitOfWork],
    ) -> SubscriptionDTO:
        return await subscription_changes.change_quantity(
            uow, org_id, subscription_id, item_id, data.quantity
        )

    @post(
        "/{subscription_id:uuid}/cancel",
        guards=[requires(perm.SUBSCRIPTIONS_WRITE)],
        status_code=200,
        summary="Cancel at the period's end (default) or now",
    )
    async def cancel(
        self,
        org_id: FromPath[uuid.UUID],
        subscription_id: SubscriptionId,
        data: JSONBody[Cancel],
        uow: NamedDependency[UnitOfWork],
    ) -> SubscriptionDTO:
        return await subscription_changes.cancel(
            uow, org_id, subscription_id, at_period_end=data.at_period_end
        )

    @post(
        "/{subscription_id:uuid}/reactivate",
        guards=[requires(perm.SUBSCRIPTIONS_WRITE)],
        status_code=200,
        summary="Undo a cancellation scheduled for the period's end",
    )
    async def reactivate(
        self, org_id: FromPath[uuid.UUID], subscription_id: SubscriptionId, uow: NamedDependency[UnitOfWork]
    ) -> SubscriptionDTO:
        return await subscription_changes.reactivate(uow, org_id, subscription_id)

    @get(
        "/{subscription_id:uuid}/changes",
        guards=[requires(perm.SUBSCRIPTIONS_READ)],
        summary="Every change, with its proration",
    )
    async def changes(
        self,
        org_id: FromPath[uuid.UUID],
        subscription_id: SubscriptionId,
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[SubscriptionChangeDTO]:
        return await subscriptions.list_changes(
            uow, org_id, subscription_id, limit=check_limit(limit), cursor=cursor
        )

    @post(
        "/{subscription_id:uuid}/update",
        guards=[requires(perm.SUBSCRIPTIONS_WRITE)],
        status_code=200,
        summary="Change items: swap prices, add, remove, quantities (prorated now, or at the period's end)",
    )
    async def update(
        self,
        org_id: FromPath[uuid.UUID],
        subscription_id: SubscriptionId,
        data: JSONBody[UpdateSubscription],
        uow: NamedDependency[UnitOfWork],
    ) -> PlanChangeDTO:
        return await plan_changes.update_subscription(uow, org_id, subscription_id, data)

    @get(
        "/{subscription_id:uuid}/scheduled-changes",
        guards=[requires(perm.SUBSCRIPTIONS_READ)],
        summary="Item changes scheduled for a period's end (pending, applied, canceled)",
    )
    async def list_scheduled_changes(
        self,
        org_id: FromPath[uuid.UUID],
        subscription_id: SubscriptionId,
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[ScheduledChangeDTO]:
        return await scheduled_changes.list_scheduled_changes(
            uow, org_id, subscription_id, limit=check_limit(limit), cursor=cursor
        )

    @post(
        "/{subscription_id:uuid}/scheduled-changes/{change_id:uuid}/cancel",
        guards=[requires(perm.SUBSCRIPTIONS_WRITE)],
        status_code=200,
        summary="Cancel a change scheduled for the period's end",
    )
    async def cancel_scheduled_change(
        self,
        org_id: FromPath[uuid.UUID],
        subscription_id: SubscriptionId,
        change_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> ScheduledChangeDTO:
        return await scheduled_changes.cancel_scheduled_change(uow, org_id, subscription_id, change_id)

    @post(
        "/{subscription_id:uuid}/pause",
        guards=[requires(perm.SUBSCRIPTIONS_PAUSE)],
        status_code=200,
        summary="Pause collection (keep_as_draft keeps the service and bills it later; void and"
        " mark_uncollectible withhold it)",
    )
    async def pause(
        self,
        org_id: FromPath[uuid.UUID],
        subscription_id: SubscriptionId,
        data: JSONBody[PauseCollection],
        uow: NamedDependency[UnitOfWork],
    ) -> SubscriptionPauseDTO:
        return await pauses.pause(uow, org_id, subscription_id, data)

    @post(
        "/{subscription_id:uuid}/resume",
        guards=[requires(perm.SUBSCRIPTIONS_PAUSE)],
        status_code=200,
        summary="Resume collection (held drafts are finalized; a withheld period starts again, invoiced now)",
    )
    async def resume(
        self, org_id: FromPath[uuid.UUID], subscription_id: SubscriptionId, uow: NamedDependency[UnitOfWork]
    ) -> SubscriptionPauseDTO:
        return await pauses.resume(uow, org_id, subscription_id)

    @get(
        "/{subscription_id:uuid}/pauses",
        guards=[requires(perm.SUBSCRIPTIONS_READ)],
        summary="The subscription's pauses, the one in force (resumed_at null) included",
    )
    async def list_pauses(
        self,
        org_id: FromPath[uuid.UUID],
        subscription_id: SubscriptionId,
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[SubscriptionPauseDTO]:
        return await pauses.list_pauses(uow, org_id, subscription_id, limit=check_limit(limit), cursor=cursor)
