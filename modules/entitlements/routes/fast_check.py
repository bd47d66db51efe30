"""`GET /entitlements/check` in the fast lane (`platform_core.http.fast_lane`): answered when the
credential, the materialized row and an allowing RBAC decision are all in this process's hot
caches; otherwise (or for any input the full route would refuse) it returns None and the
ordinary route in `usage.py` answers. Both produce the same JSON."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import msgspec

from modules.entitlements import permissions as perm
from modules.entitlements.contracts import CheckQuantity
from modules.entitlements.routes.usage import KEY_MAX_LENGTH, MAX_CHECK_QUANTITY
from modules.entitlements.services import check as checks
from modules.entitlements.services import orgs
from platform_core.runtime.module import FastRequest

_PARAMETERS = frozenset({"workspace", "key", "quantity", "org_id"})
# Only the plainest spellings; anything else (braces, spaces) goes to the full route.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ENCODER = msgspec.json.Encoder()


def _quantity(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    if not CheckQuantity.matches(raw):  # what the full route's parameter accepts
        raise ValueError(raw)
    quantity = Decimal(raw)
    if quantity > MAX_CHECK_QUANTITY:
        raise ValueError(raw)
    return quantity


async def fast_check(request: FastRequest) -> bytes | None:
    query = request.query
    if not query.keys() <= _PARAMETERS or "workspace" not in query or "key" not in query:
        return None
    key = query["key"]
    if not 1 <= len(key) <= KEY_MAX_LENGTH:
        return None
    if any(_UUID.fullmatch(query[name]) is None for name in ("workspace", "org_id") if name in query):
        return None
    try:
        quantity = _quantity(query.get("quantity"))
    except ValueError:
        return None
    workspace = uuid.UUID(query["workspace"])
    prepared = checks.cached_row(request.caches, workspace, key)
    if prepared is None:
        return None
    org_id = prepared.row["org_id"]
    if not orgs.allowed_cached(request.caches, request.principal, perm.CHECK, org_id, workspace):
        return None
    return _ENCODER.encode(checks.evaluate_now(prepared, key, quantity))
