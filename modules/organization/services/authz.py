"""RBAC decisions: which roles a principal holds where, and whether they grant a permission.

Standing in an organization comes from an active or suspended membership (persons), from
belonging to it (service accounts), or from a platform-scope role (operators). Without standing
the answer hides the organization (404). A suspended member has standing but no rights."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from modules.organization import permissions as perms
from modules.organization.contracts import AuthzDecision
from modules.organization.models import (
    ServiceAccount,
)
from platform_core.cache.hot_cache import HotCache, HotCaches, caches_of
from platform_core.core.errors import Conflict
from platform_core.core.principal import Principal
from platform_core.messaging.events import Event
from platform_core.messaging.uow import UnitOfWork

# Hand-written SQL on the authorization hot path: building these statements with the ORM's
# expression language cost more CPU per request than executing them.
_GRANTS = text(
    """SELECT r.key, a.scope_type, r.permissions
         FROM organization.role_assignments AS a
         JOIN organization.roles AS r ON r.id = a.role_id
        WHERE a.principal_type = :ptype AND a.principal_id = :pid
          AND (a.scope_type = 'platform'
               OR (a.scope_type = 'organization' AND a.scope_id = CAST(:org AS uuid))
               OR (a.scope_type = 'workspace' AND a.scope_id = CAST(:ws AS uuid)
                   AND a.org_id = CAST(:org AS uuid)))"""
)
_FACTS = text(
    """SELECT o.status,
              (SELECT m.status FROM organization.org_members AS m
                WHERE m.org_id = o.id AND m.person_id = :pid) AS member_status,
              (CAST(:ws AS uuid) IS NULL OR EXISTS (
                   SELECT 1 FROM organization.workspaces AS w
                    WHERE w.id = CAST(:ws AS uuid) AND w.org_id = o.id)) AS in_org
         FROM organization.organizations AS o
        WHERE o.id = :org"""
)


class Grant(msgspec.Struct, frozen=True):
    role_key: str
    scope_type: str
    permissions: list[str]


async def grants_of(
    session: AsyncSession,
    principal_type: str,
    principal_id: uuid.UUID,
    org_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None = None,
) -> list[Grant]:
    """The principal's platform-scope roles, plus its roles in `org_id` at organization scope
    and, when `workspace_id` is given, at that workspace's scope."""
    rows = await session.execute(
        _GRANTS, {"ptype": principal_type, "pid": principal_id, "org": org_id, "ws": workspace_id}
    )
    return [Grant(row.key, row.scope_type, list(row.permissions)) for row in rows]


def _first_grant(grants: list[Grant], permission: str, scope_types: tuple[str, ...]) -> Grant | None:
    for grant in grants:
        if grant.scope_type in scope_types and perms.any_grants(grant.permissions, permission):
            return grant
    return None


def _granted(grant: Grant, org_status: str | None, permission: str) -> AuthzDecision:
    if org_status in ("frozen", "archived") and perms.blocked_when_frozen(permission):
        return AuthzDecision(allowed=False, reason="organization_frozen")
    return AuthzDecision(allowed=True, reason=f"granted by role {grant.role_key} at {grant.scope_type} scope")


async def evaluate(
    session: AsyncSession,
    *,
    principal_type: str,
    principal_id: uuid.UUID,
    permission: str,
    org_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None = None,
    principal_org_id: uuid.UUID | None = None,
) -> AuthzDecision:
    """`principal_org_id` is a service account's own organization when the caller knows it
    (from its credential); otherwise it is looked up."""
    if principal_type not in ("person", "service_account"):
        return AuthzDecision(allowed=False, reason="unknown_principal_type", standing=org_id is not None)
    if org_id is None:
        return await _outside_organizations(session, principal_type, principal_id, permission)

    # one round trip for the organization, the person's membership and the workspace
    facts = (await session.execute(_FACTS, {"org": org_id, "pid": principal_id, "ws": workspace_id})).first()
    if facts is None:
        return AuthzDecision(allowed=False, reason="unknown_organization", standing=False)
    org_status = facts.status
    if not facts.in_org:
        return AuthzDecision(allowed=False, reason="unknown_workspace", standing=False)

    grants = await grants_of(session, principal_type, principal_id, org_id, workspace_id)
    platform = _first_grant(grants, permission, ("platform",))
    if platform is not None:
        return _granted(platform, org_status, permission)
    has_platform_role = any(g.scope_type == "platform" for g in grants)

    if principal_type == "service_account":
        if principal_org_id is None:
            row = (
                await session.execute(
                    select(ServiceAccount.org_id, ServiceAccount.disabled_at).where(
                        ServiceAccount.id == principal_id
                    )
                )
            ).first()
            if row is None:
                return AuthzDecision(allowed=False, reason="unknown_service_account", standing=False)
            if row.disabled_at is not None and row.org_id == org_id:
                return AuthzDecision(allowed=False, reason="service_account_disabled")
            principal_org_id = row.org_id
        if principal_org_id != org_id:
            return AuthzDecision(allowed=False, reason="foreign_service_account", standing=False)
    else:
        if facts.member_status in (None, "removed"):
            return AuthzDecision(allowed=False, reason="not_a_member", standing=has_platform_role)
        if facts.member_status == "suspended":
            return AuthzDecision(allowed=False, reason="member_suspended")

    grant = _first_grant(grants, permission, ("organization", "workspace"))
    if grant is None:
        return AuthzDecision(allowed=False, reason="not_granted")
    return _granted(grant, org_status, permission)


async def _outside_organizations(
    session: AsyncSession, principal_type: str, principal_id: uuid.UUID, permission: str
) -> AuthzDecision:
    grants = await grants_of(session, principal_type, principal_id, None)
    platform = _first_grant(grants, permission, ("platform",))
    if platform is not None:
        return _granted(platform, None, permission)
    if principal_type == "person" and permission in perms.SELF_SERVICE:
        return AuthzDecision(allowed=True, reason="self_service")
    return AuthzDecision(allowed=False, reason="not_granted")


async def is_operator(session: AsyncSession, principal: Principal) -> bool:
    """Platform admins (credential scope) and holders of the platform-scope operator role."""
    if principal.is_platform_admin:
        return True
    grants = await grants_of(session, principal.type, principal.id, None)
    return any(g.scope_type == "platform" and "*" in g.permissions for g in grants)


async def principal_entries(
    session: AsyncSession, principal: Principal, org_id: uuid.UUID | None
) -> list[str]:
    """Every permission entry the principal holds at platform or organization scope in
    `org_id` (used to refuse privilege escalation)."""
    if principal.is_platform_admin:
        return ["*"]
    grants = await grants_of(session, principal.type, principal.id, org_id)
    return [entry for grant in grants for entry in grant.permissions]


class OrganizationAuthorizer:
    """platform_core's Authorizer, answered from organization's role assignments."""

    async def is_allowed(
        self,
        session: AsyncSession,
        principal: Principal,
        permission: str,
        org_id: uuid.UUID | None,
        workspace_id: uuid.UUID | None,
    ) -> bool | None:
        return await guard_answer(session, principal, permission, org_id, workspace_id)


AUTHZ_CACHE = "organization.authz"
AUTHZ_TTL_SECONDS = 60.0
_DecisionKey = tuple[str, uuid.UUID, uuid.UUID | None, str, uuid.UUID | None, uuid.UUID | None]


def _decision_key(
    principal: Principal, permission: str, org_id: uuid.UUID | None, workspace_id: uuid.UUID | None
) -> _DecisionKey:
    own_org = principal.org_id if principal.type == "service_account" else None
    return (principal.type, principal.id, own_org, permission, org_id, workspace_id)


def _authz_cache(caches: HotCaches | None) -> HotCache[_DecisionKey, AuthzDecision] | None:
    return caches.cache(AUTHZ_CACHE, ttl_seconds=AUTHZ_TTL_SECONDS) if caches else None


def cached_decision(
    caches: HotCaches | None,
    principal: Principal,
    permission: str,
    org_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None = None,
) -> AuthzDecision | None:
    """The decision `guard_answer` last made for exactly this question, if still cached."""
    cache = _authz_cache(caches)
    return cache.get(_decision_key(principal, permission, org_id, workspace_id)) if cache else None


async def decide(
    session: AsyncSession,
    principal: Principal,
    permission: str,
    org_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None = None,
) -> AuthzDecision:
    """`evaluate` for a principal, through the process's hot cache: any organization event
    (roles, assignments, members, workspaces, status) and any person merge or erasure drop
    every cached decision (`invalidate_decisions`)."""
    cache = _authz_cache(caches_of(session))
    key = _decision_key(principal, permission, org_id, workspace_id)
    decision = cache.get(key) if cache else None
    if decision is None:
        ticket = cache.ticket() if cache else 0
        decision = await evaluate(
            session,
            principal_type=principal.type,
            principal_id=principal.id,
            permission=permission,
            org_id=org_id,
            workspace_id=workspace_id,
            principal_org_id=key[2],
        )
        if cache:
            cache.put(key, decision, (), ticket)
    return decision


async def invalidate_decisions(uow: UnitOfWork, _event: Event) -> None:
    await uow.invalidate(AUTHZ_CACHE)


async def guard_answer(
    session: AsyncSession,
    principal: Principal,
    permission: str,
    org_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None = None,
) -> bool | None:
    """The guard's three-way answer (True / False → 403 / None → 404); a write to a frozen or
    archived organization raises 409 `organization_frozen`."""
    decision = await decide(session, principal, permission, org_id, workspace_id)
    if not decision.standing:
        return None
    if decision.reason == "organization_frozen":
        raise Conflict(
            f"organization {org_id} is frozen or archived: {permission} is refused",
            code="organization_frozen",
            title="Organization is read-only",
        )
    return decision.allowed
