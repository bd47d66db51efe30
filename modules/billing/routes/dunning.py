"""Dunning: operators set overdue policies; an organization's billing admins see where their
account stands on the overdue ladder and what comes next."""

from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import AccountOverdueDTO, OverduePolicyDTO
from modules.billing.schemas import CreateOverduePolicy, UpdateOverduePolicy
from modules.billing.services import dunning, overdue_policies
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class DunningController(Controller):
    path = "/billing"
    tags = ["billing"]

    @get(
        "/overdue-policies",
        guards=[requires(perm.OVERDUE_POLICIES_READ)],
        summary="Overdue policies: the default and every account's own (operators)",
    )
    async def list_policies(
        self, uow: NamedDependency[UnitOfWork], limit: Limit = None, cursor: Cursor = None
    ) -> Page[OverduePolicyDTO]:
        return await overdue_policies.list_policies(uow, limit=check_limit(limit), cursor=cursor)

    @post(
        "/overdue-policies",
        guards=[requires(perm.OVERDUE_POLICIES_WRITE)],
        status_code=201,
        summary="Give a billing account its own overdue policy (absent fields copy the default)",
    )
    async def create_policy(
        self, data: JSONBody[CreateOverduePolicy], uow: NamedDependency[UnitOfWork]
    ) -> OverduePolicyDTO:
        return await overdue_policies.create_policy(uow, data)

    @patch(
        "/overdue-policies/{policy_id:uuid}",
        guards=[requires(perm.OVERDUE_POLICIES_WRITE)],
        summary="Change an overdue policy (the default too); the next dunning run applies it",
    )
    async def update_policy(
        self,
        policy_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateOverduePolicy],
        uow: NamedDependency[UnitOfWork],
    ) -> OverduePolicyDTO:
        return await overdue_policies.update_policy(uow, policy_id, data)

    @get(
        "/orgs/{org_id:uuid}/overdue",
        guards=[requires(perm.OVERDUE_READ)],
        summary="Where the organization's account stands on the overdue ladder, and the next step",
    )
    async def org_overdue(
        self, org_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> AccountOverdueDTO:
        return await dunning.account_overdue(uow, org_id)
