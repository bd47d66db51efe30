"""The migration history: one linear chain of module-prefixed revisions that upgrades, fully
downgrades and upgrades again on a scratch database, and matches the models exactly."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import platform_core.messaging.idempotency_keys  # noqa: F401  (registers platform.idempotency_keys)
from migrations import KEEL_MIGRATIONS as migrate
from platform_core.persistence.db import METADATA, asyncpg_dsn, sqlalchemy_url
from tests.conftest import SERVER_URL, SUFFIX, database_url

MODULES = ("identity", "organization", "entitlements", "billing", "cooperative", "audit", "integration")
KEEL_SCHEMAS = ("platform", *MODULES)
SCRATCH_DB = f"keel_mig_{SUFFIX}"

for _module in MODULES:
    try:
        importlib.import_module(f"modules.{_module}.models")
    except ModuleNotFoundError as exc:  # a module without tables yet
        if exc.name != f"modules.{_module}.models":
            raise


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(SERVER_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{SCRATCH_DB}"'))
    yield database_url(SCRATCH_DB)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.config("postgresql://unused/unused"))


def _schemas(url: str) -> set[str]:
    rows = asyncio.run(
        _fetch(url, "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])", list(KEEL_SCHEMAS))
    )
    return {r["nspname"] for r in rows}


def _relations(url: str) -> set[str]:
    """Tables, views, sequences and types outside the system schemas."""
    rows = asyncio.run(
        _fetch(
            url,
            """SELECT n.nspname || '.' || c.relname AS name FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg_toast%'
               UNION ALL
               SELECT n.nspname || '.' || t.typname FROM pg_type t
                 JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE t.typtype IN ('e', 'd', 'r', 'm')
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema')""",
        )
    )
    return {r["name"] for r in rows}


def _functions(url: str) -> set[str]:
    rows = asyncio.run(
        _fetch(
            url,
            """SELECT n.nspname || '.' || p.proname AS name FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')""",
        )
    )
    return {r["name"] for r in rows}


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "schema":
        return name in KEEL_SCHEMAS
    return True


def _diff(url: str) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": _include_name,
                "compare_type": True,
                "version_table_schema": "public",
                "target_metadata": METADATA,
            },
        )
        return list(compare_metadata(context, METADATA))

    async def run() -> list[Any]:
        engine = create_async_engine(sqlalchemy_url(url))
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_history_has_one_head_and_one_base() -> None:
    script = _script()
    assert len(script.get_heads()) == 1, script.get_heads()
    assert len(script.get_bases()) == 1, script.get_bases()


def test_history_is_linear() -> None:
    script = _script()
    revisions = list(script.walk_revisions())
    children: dict[str, list[str]] = {}
    for rev in revisions:
        assert rev.down_revision is None or isinstance(rev.down_revision, str), (
            f"{rev.revision} merges {rev.down_revision}"
        )
        assert not rev.branch_labels, f"{rev.revision} has branch labels {rev.branch_labels}"
        assert not rev.dependencies, f"{rev.revision} depends on {rev.dependencies}"
        if rev.down_revision is not None:
            children.setdefault(rev.down_revision, []).append(rev.revision)
    branched = {parent: kids for parent, kids in children.items() if len(kids) > 1}
    assert branched == {}
    # walking down from the head reaches every revision exactly once
    chain: list[str] = []
    current: str | None = script.get_current_head()
    while current is not None:
        chain.append(current)
        rev = script.get_revision(current)
        assert rev is not None
        current = rev.down_revision  # type: ignore[assignment]
    assert sorted(chain) == sorted(r.revision for r in revisions)


def test_revision_ids_start_with_their_module() -> None:
    for rev in _script().walk_revisions():
        owner, _, rest = rev.revision.partition("_")
        assert owner in KEEL_SCHEMAS, f"{rev.revision} does not start with a module name and `_`"
        assert rest, f"{rev.revision} has nothing after its module prefix"


def test_first_revision_creates_every_schema(scratch_url: str) -> None:
    base = _script().get_bases()[0]
    migrate.upgrade(scratch_url, base)
    try:
        assert _schemas(scratch_url) == set(KEEL_SCHEMAS)
        assert "platform.idempotency_keys" in _relations(scratch_url)
    finally:
        migrate.downgrade(scratch_url, "base")


def test_upgrade_downgrade_upgrade_round_trip(scratch_url: str) -> None:
    migrate.upgrade(scratch_url, "head")
    at_head = _relations(scratch_url)
    assert "platform.idempotency_keys" in at_head
    assert _schemas(scratch_url) == set(KEEL_SCHEMAS)

    migrate.downgrade(scratch_url, "base")
    assert _schemas(scratch_url) == set(), "downgrade left Keel schemas behind"
    assert _relations(scratch_url) == {"public.alembic_version"}
    assert _functions(scratch_url) == set(), "downgrade left functions behind"
    version = asyncio.run(_fetch(scratch_url, "SELECT version_num FROM alembic_version"))
    assert version == []

    migrate.upgrade(scratch_url, "head")
    assert _relations(scratch_url) == at_head
    head = _script().get_current_head()
    version = asyncio.run(_fetch(scratch_url, "SELECT version_num FROM alembic_version"))
    assert [r["version_num"] for r in version] == [head]


def test_models_match_the_migrated_database(scratch_url: str) -> None:
    """The equivalent of `alembic check`: autogenerate finds nothing to do at head."""
    migrate.upgrade(scratch_url, "head")
    assert _diff(scratch_url) == []
