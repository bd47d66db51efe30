"""Operators' retention routes under /audit: policies, legal holds, the archive manifest.
Platform scope only (no organization in the path): an organization's owners may read their
audit log but never shorten how long it is kept."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.audit.contracts import ArchiveDTO, LegalHoldDTO, RetentionPolicyDTO
from modules.audit.schemas import PlaceLegalHold, SetRetentionPolicy
from modules.audit.services import retention_rules
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit

RETENTION_READ = "audit.retention:read"
RETENTION_WRITE = "audit.retention:write"
HOLDS_READ = "audit.legal_holds:read"
HOLDS_WRITE = "audit.legal_holds:write"


class RetentionController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get("/retention-policies", guards=[requires(RETENTION_READ)], summary="Retention policies")
    async def list_policies(self, uow: NamedDependency[UnitOfWork]) -> list[RetentionPolicyDTO]:
        return await retention_rules.list_policies(uow)

    @put(
        "/retention-policies",
        guards=[requires(RETENTION_WRITE)],
        summary="Set how long one organization's (or a tier's) audit records are kept",
    )
    async def set_policy(
        self, data: JSONBody[SetRetentionPolicy], uow: NamedDependency[UnitOfWork]
    ) -> RetentionPolicyDTO:
        return await retention_rules.set_policy(uow, data)

    @delete(
        "/retention-policies/{policy_id:uuid}",
        guards=[requires(RETENTION_WRITE)],
        status_code=204,
        summary="Remove a policy (its records are then kept, or fall back to their tier's)",
    )
    async def delete_policy(self, policy_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> None:
        await retention_rules.delete_policy(uow, policy_id)

    @get("/legal-holds", guards=[requires(HOLDS_READ)], summary="Legal holds")
    async def list_holds(
        self, uow: NamedDependency[UnitOfWork], active: FromQuery[bool | None] = None
    ) -> list[LegalHoldDTO]:
        return await retention_rules.list_holds(uow, active=active)

    @post(
        "/legal-holds",
        guards=[requires(HOLDS_WRITE)],
        status_code=201,
        summary="Keep matching records whatever the retention policy, until released",
    )
    async def place_hold(
        self, data: JSONBody[PlaceLegalHold], uow: NamedDependency[UnitOfWork]
    ) -> LegalHoldDTO:
        return await retention_rules.place_hold(uow, data)

    @post(
        "/legal-holds/{hold_id:uuid}/release",
        guards=[requires(HOLDS_WRITE)],
        status_code=200,
        summary="Release a legal hold",
    )
    async def release_hold(
        self, hold_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> LegalHoldDTO:
        return await retention_rules.release_hold(uow, hold_id)

    @get("/archives", guards=[requires(RETENTION_READ)], summary="Runs of records removed by retention")
    async def list_archives(
        self,
        uow: NamedDependency[UnitOfWork],
        org_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[ArchiveDTO]:
        return await retention_rules.list_archives(
            uow, org_id=org_id, limit=check_limit(limit), cursor=cursor
        )
