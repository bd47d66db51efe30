"""entitlements's public facade: async functions taking a UnitOfWork.

Billing drives provisioning through `provision` / `change_provision` / `deprovision` (grants go
the same way), and its dunning through `suspend_pool` / `resume_pool` / `reinstate_provision`;
products and other modules ask `check` and record usage with `ingest_usage`; billing bills
metered usage in arrears with `claim_usage` (previews: `usage_to_bill`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from modules.entitlements.contracts import CheckResult, IngestResult, UsageEventIn
from modules.entitlements.services import check as _check
from modules.entitlements.services.catalog import (
    create_resource_key,
    create_set,
    get_set,
    get_set_by_id,
    new_set_version,
)
from modules.entitlements.services.grants import create_grant, revoke_grant
from modules.entitlements.services.ingest import ingest as _ingest
from modules.entitlements.services.materialize import rematerialize_due
from modules.entitlements.services.pools import assign_workspace, create_pool, pool_in_org, set_ondemand
from modules.entitlements.services.provisions import (
    change_provision,
    deprovision,
    find_provision,
    get_provision,
    provision,
    reinstate_provision,
)
from modules.entitlements.services.suspensions import pool_suspension, resume_pool, suspend_pool
from modules.entitlements.services.usage_billing import claim_usage, claimed_counts, usage_to_bill
from platform_core.messaging.uow import UnitOfWork


async def check(
    uow: UnitOfWork, workspace_id: uuid.UUID, key: str, quantity: Decimal | None = None
) -> CheckResult | None:
    """The entitlement check without authorization (the caller decides who may ask); None when
    the workspace uses no pool."""
    located = await _check.check(uow, workspace_id, key, quantity)
    return located.result if located is not None else None


async def ingest_usage(uow: UnitOfWork, org_id: uuid.UUID, events: Sequence[UsageEventIn]) -> IngestResult:
    """Record up to 1,000 usage events of one organization (idempotent per event_id)."""
    return await _ingest(uow, org_id, events)


__all__ = [
    "assign_workspace",
    "change_provision",
    "check",
    "claim_usage",
    "claimed_counts",
    "create_grant",
    "create_pool",
    "create_resource_key",
    "create_set",
    "deprovision",
    "find_provision",
    "get_provision",
    "get_set",
    "get_set_by_id",
    "ingest_usage",
    "new_set_version",
    "pool_in_org",
    "pool_suspension",
    "provision",
    "reinstate_provision",
    "rematerialize_due",
    "resume_pool",
    "revoke_grant",
    "set_ondemand",
    "suspend_pool",
    "usage_to_bill",
]
