"""/orgs/{org_id}/service-accounts and their keys."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.organization import permissions as perms
from modules.organization.contracts import IssuedServiceAccountKey, ServiceAccountDTO, ServiceAccountKeyDTO
from modules.organization.routes.params import Cursor, Limit
from modules.organization.schemas import CreateKey, CreateServiceAccount, UpdateServiceAccount
from modules.organization.services import keys, service_accounts
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class ServiceAccountController(Controller):
    path = "/orgs/{org_id:uuid}/service-accounts"
    tags = ["organization"]

    @get("/", guards=[requires(perms.SERVICE_ACCOUNTS_READ)], summary="List service accounts")
    async def list_accounts(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[ServiceAccountDTO]:
        return await service_accounts.list_accounts(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @post(
        "/",
        guards=[requires(perms.SERVICE_ACCOUNTS_CREATE)],
        status_code=201,
        summary="Create a service account",
    )
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateServiceAccount],
        uow: NamedDependency[UnitOfWork],
    ) -> ServiceAccountDTO:
        sa = await service_accounts.create_account(uow, org_id, name=data.name, description=data.description)
        return sa

    @get(
        "/{account_id:uuid}", guards=[requires(perms.SERVICE_ACCOUNTS_READ)], summary="Get a service account"
    )
    async def get_one(
        self, org_id: FromPath[uuid.UUID], account_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> ServiceAccountDTO:
        return service_accounts.to_dto(await service_accounts.get_account(uow, org_id, account_id))

    @patch(
        "/{account_id:uuid}",
        guards=[requires(perms.SERVICE_ACCOUNTS_UPDATE)],
        summary="Update or disable a service account",
    )
    async def update(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateServiceAccount],
        uow: NamedDependency[UnitOfWork],
    ) -> ServiceAccountDTO:
        return await service_accounts.update_account(
            uow, org_id, account_id, name=data.name, description=data.description, disabled=data.disabled
        )

    @delete(
        "/{account_id:uuid}",
        guards=[requires(perms.SERVICE_ACCOUNTS_DELETE)],
        status_code=204,
        summary="Delete a service account, its keys and role assignments",
    )
    async def remove(
        self, org_id: FromPath[uuid.UUID], account_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> None:
        await service_accounts.delete_account(uow, org_id, account_id)

    @get(
        "/{account_id:uuid}/keys",
        guards=[requires(perms.SERVICE_ACCOUNTS_READ)],
        summary="List keys (no secrets)",
    )
    async def list_keys(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[ServiceAccountKeyDTO]:
        return await keys.list_keys(uow, org_id, account_id, limit=check_limit(limit), cursor=cursor)

    @post(
        "/{account_id:uuid}/keys",
        guards=[requires(perms.KEYS_CREATE)],
        status_code=201,
        summary="Issue a key; its secret is returned once",
    )
    async def create_key(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[CreateKey],
        uow: NamedDependency[UnitOfWork],
    ) -> IssuedServiceAccountKey:
        issued = await keys.create_key(
            uow,
            org_id,
            account_id,
            name=data.name,
            scopes=data.scopes,
            expires_at=data.expires_at,
            allowed_ips=data.allowed_ips,
            allowed_origins=data.allowed_origins,
            rate_limit_per_min=data.rate_limit_per_min,
        )
        return issued

    @delete(
        "/{account_id:uuid}/keys/{key_id:uuid}",
        guards=[requires(perms.KEYS_REVOKE)],
        status_code=204,
        summary="Revoke a key (effective on its next request)",
    )
    async def revoke_key(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        key_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> None:
        await keys.revoke_key(uow, org_id, account_id, key_id)
