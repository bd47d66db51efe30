"""The capability catalog (platform operators): resource keys and versioned entitlement sets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from modules.entitlements.contracts import (
    RESOURCE_KEY_CREATED,
    SET_VERSION_CREATED,
    EntitlementSetDTO,
    ResourceKeyDTO,
    RuleDTO,
    RuleSpec,
)
from modules.entitlements.models import EntitlementSet, EntitlementSetRule, ResourceKey
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

NUMERIC_RULES = ("limit", "quota", "credit")
MAX_AMOUNT = Decimal("1e15")


def key_dto(rk: ResourceKey) -> ResourceKeyDTO:
    return ResourceKeyDTO(
        id=rk.id,
        key=rk.key,
        name=rk.name,
        description=rk.description,
        kind=rk.kind,  # type: ignore[arg-type]
        unit=rk.unit,
        aggregation=rk.aggregation,  # type: ignore[arg-type]
        default_value=rk.default_value,
        created_at=rk.created_at,
    )


def _problem(field: str, message: str) -> Unprocessable:
    return Unprocessable(message, code="invalid_rule", errors=[{"field": field, "message": message}])


async def create_resource_key(
    uow: UnitOfWork,
    *,
    key: str,
    name: str,
    kind: str,
    unit: str | None = None,
    aggregation: str | None = None,
    default_value: Any = None,
    description: str | None = None,
) -> ResourceKeyDTO:
    if (kind == "numeric") != (aggregation is not None):
        raise _problem("aggregation", "numeric keys need an aggregation; other kinds take none")
    if (kind == "config") != (default_value is not None):
        raise _problem("default_value", "config keys need a default_value; other kinds take none")
    if kind != "numeric" and unit is not None:
        raise _problem("unit", "only numeric keys have a unit")
    existing = await uow.session.scalar(select(ResourceKey.id).where(ResourceKey.key == key))
    if existing is not None:
        raise Conflict(f"resource key {key!r} already exists", code="resource_key_exists")
    rk = ResourceKey(
        key=key,
        name=name,
        kind=kind,
        unit=unit,
        aggregation=aggregation,
        default_value=default_value,
        description=description,
        created_by=uow.actor.id,
    )
    uow.session.add(rk)
    await uow.session.flush()
    await uow.session.refresh(rk, ["created_at"])
    await uow.emit(
        RESOURCE_KEY_CREATED,
        subject=Subject(type="resource_key", id=str(rk.id), name=key),
        data={"key": key, "kind": kind, "aggregation": aggregation, "unit": unit},
    )
    return key_dto(rk)


async def get_resource_key(uow: UnitOfWork, key: str) -> ResourceKeyDTO:
    rk = await uow.session.scalar(select(ResourceKey).where(ResourceKey.key == key))
    if rk is None:
        raise NotFound(f"resource key {key!r} does not exist", code="resource_key_not_found")
    return key_dto(rk)


async def list_resource_keys(uow: UnitOfWork, *, limit: int, cursor: str | None) -> Page[ResourceKeyDTO]:
    stmt = keyset(select(ResourceKey), [ResourceKey.key.expression], cursor=cursor, limit=limit)
    rows = (await uow.session.scalars(stmt)).all()
    return page_of(rows, limit, lambda rk: [rk.key], key_dto)


# ---------------------------------------------------------------- sets


async def _validated_rules(uow: UnitOfWork, rules: Sequence[RuleSpec]) -> list[tuple[RuleSpec, ResourceKey]]:
    keys = [r.resource_key for r in rules]
    if len(set(keys)) != len(keys):
        raise _problem("rules", "a set has at most one rule per resource key")
    found = {
        rk.key: rk for rk in await uow.session.scalars(select(ResourceKey).where(ResourceKey.key.in_(keys)))
    }
    out = []
    for i, rule in enumerate(rules):
        field = f"rules[{i}]"
        rk = found.get(rule.resource_key)
        if rk is None:
            raise _problem(f"{field}.resource_key", f"resource key {rule.resource_key!r} does not exist")
        if rk.kind == "numeric":
            if rule.rule_type not in NUMERIC_RULES:
                raise _problem(f"{field}.rule_type", "numeric keys take limit, quota or credit rules")
            amount = rule.amount
            if amount is None or not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
                raise _problem(f"{field}.amount", "amount must be a number between 0 and 1e15")
            if rule.value is not None:
                raise _problem(f"{field}.value", "numeric rules take an amount, not a value")
        else:
            if rule.rule_type != "boolean":
                raise _problem(f"{field}.rule_type", f"{rk.kind} keys take boolean rules")
            if rule.amount is not None:
                raise _problem(f"{field}.amount", "boolean rules take no amount")
            if rk.kind == "boolean" and rule.value is not None:
                raise _problem(f"{field}.value", "only config keys take a value")
        if (rule.rule_type == "quota") != (rule.reset_period != "none"):
            raise _problem(f"{field}.reset_period", "quota rules reset (day … billing_period); others do not")
        out.append((rule, rk))
    return out


async def _insert_version(
    uow: UnitOfWork, *, key: str, version: int, name: str, description: str | None, rules: Sequence[RuleSpec]
) -> EntitlementSetDTO:
    checked = await _validated_rules(uow, rules)
    es = EntitlementSet(key=key, version=version, name=name, description=description, created_by=uow.actor.id)
    uow.session.add(es)
    await uow.session.flush()
    for rule, rk in checked:
        uow.session.add(
            EntitlementSetRule(
                set_id=es.id,
                resource_key_id=rk.id,
                rule_type=rule.rule_type,
                amount=rule.amount,
                value=rule.value,
                reset_period=rule.reset_period,
                enforcement=rule.enforcement,
            )
        )
    await uow.session.flush()
    dto = await get_set_by_id(uow, es.id)
    await uow.emit(
        SET_VERSION_CREATED,
        subject=Subject(type="entitlement_set", id=str(es.id), name=f"{key}@{version}"),
        data={"key": key, "version": version, "rules": [r.resource_key for r in rules]},
    )
    return dto


async def create_set(
    uow: UnitOfWork, *, key: str, name: str, description: str | None, rules: Sequence[RuleSpec]
) -> EntitlementSetDTO:
    if await uow.session.scalar(select(EntitlementSet.id).where(EntitlementSet.key == key).limit(1)):
        raise Conflict(f"entitlement set {key!r} already exists; edit it to add a version", code="set_exists")
    return await _insert_version(uow, key=key, version=1, name=name, description=description, rules=rules)


async def new_set_version(
    uow: UnitOfWork, key: str, *, name: str, description: str | None, rules: Sequence[RuleSpec]
) -> EntitlementSetDTO:
    """Editing never changes an existing version: it adds the next one. Concurrent edits are
    serialized on the latest version's row."""
    latest = await uow.session.scalar(
        select(EntitlementSet)
        .where(EntitlementSet.key == key)
        .order_by(EntitlementSet.version.desc())
        .limit(1)
        .with_for_update()
    )
    if latest is None:
        raise NotFound(f"entitlement set {key!r} does not exist", code="set_not_found")
    return await _insert_version(
        uow, key=key, version=latest.version + 1, name=name, description=description, rules=rules
    )


async def _rules_of(uow: UnitOfWork, set_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[RuleDTO]]:
    rows = await uow.session.execute(
        select(EntitlementSetRule, ResourceKey.key)
        .join(ResourceKey, ResourceKey.id == EntitlementSetRule.resource_key_id)
        .where(EntitlementSetRule.set_id.in_(set_ids))
        .order_by(ResourceKey.key)
    )
    out: dict[uuid.UUID, list[RuleDTO]] = {i: [] for i in set_ids}
    for rule, rk_key in rows:
        out[rule.set_id].append(
            RuleDTO(
                id=rule.id,
                resource_key=rk_key,
                rule_type=rule.rule_type,  # type: ignore[arg-type]
                amount=rule.amount,
                value=rule.value,
                reset_period=rule.reset_period,  # type: ignore[arg-type]
                enforcement=rule.enforcement,  # type: ignore[arg-type]
            )
        )
    return out


def _set_dto(es: EntitlementSet, rules: list[RuleDTO]) -> EntitlementSetDTO:
    return EntitlementSetDTO(
        id=es.id,
        key=es.key,
        version=es.version,
        name=es.name,
        description=es.description,
        rules=rules,
        created_at=es.created_at,
    )


async def get_set_by_id(uow: UnitOfWork, set_id: uuid.UUID) -> EntitlementSetDTO:
    es = await uow.session.get(EntitlementSet, set_id, populate_existing=True)
    if es is None:
        raise NotFound(f"entitlement set {set_id} does not exist", code="set_not_found")
    return _set_dto(es, (await _rules_of(uow, [es.id]))[es.id])


async def get_set(uow: UnitOfWork, key: str, version: int | None = None) -> EntitlementSetDTO:
    """A set by key: the given version, or the latest."""
    stmt = select(EntitlementSet).where(EntitlementSet.key == key)
    stmt = (
        stmt.where(EntitlementSet.version == version)
        if version
        else stmt.order_by(EntitlementSet.version.desc())
    )
    es = await uow.session.scalar(stmt.limit(1))
    if es is None:
        which = f"{key!r} version {version}" if version else repr(key)
        raise NotFound(f"entitlement set {which} does not exist", code="set_not_found")
    return _set_dto(es, (await _rules_of(uow, [es.id]))[es.id])


async def list_sets(uow: UnitOfWork, *, limit: int, cursor: str | None) -> Page[EntitlementSetDTO]:
    """The latest version of every set."""
    latest = (
        select(EntitlementSet.key, func.max(EntitlementSet.version).label("version"))
        .group_by(EntitlementSet.key)
        .subquery()
    )
    stmt = select(EntitlementSet).join(
        latest, (latest.c.key == EntitlementSet.key) & (latest.c.version == EntitlementSet.version)
    )
    rows = (
        await uow.session.scalars(keyset(stmt, [EntitlementSet.key.expression], cursor=cursor, limit=limit))
    ).all()
    rules = await _rules_of(uow, [es.id for es in rows])
    return page_of(rows, limit, lambda es: [es.key], lambda es: _set_dto(es, rules[es.id]))


async def list_set_versions(uow: UnitOfWork, key: str) -> list[EntitlementSetDTO]:
    rows = (
        await uow.session.scalars(
            select(EntitlementSet).where(EntitlementSet.key == key).order_by(EntitlementSet.version)
        )
    ).all()
    if not rows:
        raise NotFound(f"entitlement set {key!r} does not exist", code="set_not_found")
    rules = await _rules_of(uow, [es.id for es in rows])
    return [_set_dto(es, rules[es.id]) for es in rows]
