"""An organization's payment methods: its billing admins list them, choose the default and
detach one (the provider confirms the detachment)."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from modules.billing import permissions as perm
from modules.billing.contracts import PaymentMethodDTO
from modules.billing.services import payment_methods
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class PaymentMethodController(Controller):
    path = "/billing/orgs/{org_id:uuid}/payment-methods"
    tags = ["billing"]

    @get("/", guards=[requires(perm.PAYMENT_METHODS_READ)], summary="The organization's payment methods")
    async def list_payment_methods(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[PaymentMethodDTO]:
        return await payment_methods.list_payment_methods(
            uow, org_id, limit=check_limit(limit), cursor=cursor
        )

    @post(
        "/{payment_method_id:uuid}/default",
        guards=[requires(perm.PAYMENT_METHODS_WRITE)],
        status_code=200,
        summary="Make a payment method the account's default",
    )
    async def set_default(
        self,
        org_id: FromPath[uuid.UUID],
        payment_method_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> PaymentMethodDTO:
        return await payment_methods.set_default(uow, org_id, payment_method_id)

    @delete(
        "/{payment_method_id:uuid}",
        guards=[requires(perm.PAYMENT_METHODS_WRITE)],
        status_code=202,
        summary="Detach a payment method (asks the provider; detached once it confirms)",
    )
    async def detach(
        self,
        org_id: FromPath[uuid.UUID],
        payment_method_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> PaymentMethodDTO:
        return await payment_methods.request_detach(uow, org_id, payment_method_id)
