"""Refunds: operators refund a payment (or confirm a manual refund); an organization's
billing admins read its refunds."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import RefundDTO
from modules.billing.schemas import CreateRefund
from modules.billing.services import refunds
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class RefundController(Controller):
    path = "/billing"
    tags = ["billing"]

    @post(
        "/orgs/{org_id:uuid}/payments/{payment_id:uuid}/refunds",
        guards=[requires(perm.REFUNDS_WRITE, platform_scope=True)],
        status_code=201,
        summary="Refund a payment, in full or in part (operators)",
        description="Never more than the payment minus its pending and succeeded refunds and lost"
        " disputes (409 refund_exceeds_payment); refused while the payment is disputed. The"
        " provider is asked after commit; a manual payment's refund waits for an operator.",
    )
    async def create_refund(
        self,
        org_id: FromPath[uuid.UUID],
        payment_id: FromPath[uuid.UUID],
        data: JSONBody[CreateRefund],
        uow: NamedDependency[UnitOfWork],
    ) -> RefundDTO:
        return await refunds.create_refund(uow, org_id, payment_id, amount=data.amount, reason=data.reason)

    @get(
        "/orgs/{org_id:uuid}/payments/{payment_id:uuid}/refunds",
        guards=[requires(perm.REFUNDS_READ)],
        summary="A payment's refunds",
    )
    async def payment_refunds(
        self,
        org_id: FromPath[uuid.UUID],
        payment_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[RefundDTO]:
        return await refunds.list_refunds(uow, org_id, payment_id, limit=check_limit(limit), cursor=cursor)

    @get(
        "/orgs/{org_id:uuid}/refunds",
        guards=[requires(perm.REFUNDS_READ)],
        summary="The organization's refunds",
    )
    async def org_refunds(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[RefundDTO]:
        return await refunds.list_refunds(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @post(
        "/refunds/{refund_id:uuid}/succeed",
        guards=[requires(perm.REFUNDS_WRITE)],
        status_code=200,
        summary="Record that a manual refund was paid out (operators)",
    )
    async def succeed(self, refund_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> RefundDTO:
        return await refunds.confirm_manual(uow, refund_id, succeeded=True)

    @post(
        "/refunds/{refund_id:uuid}/fail",
        guards=[requires(perm.REFUNDS_WRITE)],
        status_code=200,
        summary="Record that a manual refund could not be paid out (operators)",
    )
    async def fail(self, refund_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> RefundDTO:
        return await refunds.confirm_manual(uow, refund_id, succeeded=False)
