"""An organization's billing account."""

from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import BillingAccountDTO
from modules.billing.schemas import CreateAccount, UpdateAccount
from modules.billing.services import accounts
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class AccountController(Controller):
    path = "/billing/orgs/{org_id:uuid}/accounts"
    tags = ["billing"]

    @post("/", guards=[requires(perm.ACCOUNTS_WRITE)], status_code=201, summary="Create the billing account")
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateAccount],
        uow: NamedDependency[UnitOfWork],
    ) -> BillingAccountDTO:
        return await accounts.create_account(uow, org_id, data)

    @get("/", guards=[requires(perm.ACCOUNTS_READ)], summary="The organization's billing accounts")
    async def list_accounts(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[BillingAccountDTO]:
        return await accounts.list_accounts(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @get("/{account_id:uuid}", guards=[requires(perm.ACCOUNTS_READ)], summary="Get a billing account")
    async def get_account(
        self, org_id: FromPath[uuid.UUID], account_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> BillingAccountDTO:
        return await accounts.get_account(uow, org_id, account_id)

    @patch("/{account_id:uuid}", guards=[requires(perm.ACCOUNTS_WRITE)], summary="Update a billing account")
    async def update(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateAccount],
        uow: NamedDependency[UnitOfWork],
    ) -> BillingAccountDTO:
        return await accounts.update_account(uow, org_id, account_id, data)
