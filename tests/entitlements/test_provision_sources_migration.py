"""entitlements_0030_provision_sources on a database that has provisions: a subscription item's
provision gets its foreign key, and a provision whose subscription or purchase never existed
(an operator's hand provision, as the README once showed) becomes the grant it always was, same
id, pool, set, quantity and window. Downgrading drops the columns and keeps the rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import pytest

from migrations import KEEL_MIGRATIONS as migrate
from platform_core.persistence.db import asyncpg_dsn
from tests.conftest import SUFFIX, database_url
from tests.platform.test_migrations import _admin, _fetch

SCRATCH_DB = f"keel_mig_sources_{SUFFIX}"
BEFORE, AFTER = "billing_0029_purchases", "entitlements_0030_provision_sources"


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{SCRATCH_DB}"'))
    yield database_url(SCRATCH_DB)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))


SEED = """
INSERT INTO organization.organizations (id, slug, name) VALUES ('{org}', 'sources', 'Sources');
INSERT INTO entitlements.entitlement_sets (id, key, version, name) VALUES ('{set}', 'plan', 1, 'Plan');
INSERT INTO entitlements.resource_pools (id, org_id, name) VALUES ('{pool}', '{org}', 'main');
INSERT INTO billing.billing_accounts (id, org_id, name, email, currency)
  VALUES ('{account}', '{org}', 'A', 'a@x.test', 'EUR');
INSERT INTO billing.products (id, key, name) VALUES ('{product}', 'plan', 'Plan');
INSERT INTO billing.prices (id, product_id, currency, type, unit_amount, interval)
  VALUES ('{price}', '{product}', 'EUR', 'recurring', 100, 'month');
INSERT INTO billing.subscriptions (id, org_id, account_id, pool_id, status, currency, interval,
  interval_count, billing_cycle_anchor, current_period_start, current_period_end)
  VALUES ('{sub}', '{org}', '{account}', '{pool}', 'active', 'EUR', 'month', 1, now(), now(),
          now() + interval '1 month');
INSERT INTO billing.subscription_items (id, subscription_id, price_id, quantity)
  VALUES ('{item}', '{sub}', '{price}', 1);
"""  # the ids are uuids this test makes
PROVISION = """INSERT INTO entitlements.pool_provisions
  (id, org_id, pool_id, source_type, source_id, entitlement_set_id, quantity, starts_at, ends_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, '2030-01-01T00:00:00Z', $8)"""


async def _seed(url: str) -> dict[str, uuid.UUID]:
    ids = {
        name: uuid.uuid4() for name in ("org", "set", "pool", "account", "product", "price", "sub", "item")
    }
    ids |= {name: uuid.uuid4() for name in ("real", "made_up_sub", "made_up_purchase", "p1", "p2", "p3")}
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(SEED.format(**ids))
        common = (ids["org"], ids["pool"])
        await conn.execute(PROVISION, ids["p1"], *common, "subscription", ids["item"], ids["set"], 2, None)
        await conn.execute(
            PROVISION, ids["p2"], *common, "subscription", ids["made_up_sub"], ids["set"], 3, None
        )
        ends = datetime(2031, 1, 1, tzinfo=UTC)
        await conn.execute(
            PROVISION, ids["p3"], *common, "purchase", ids["made_up_purchase"], ids["set"], 1, ends
        )
    finally:
        await conn.close()
    return ids


def test_existing_provisions_get_their_source_or_become_grants(scratch_url: str) -> None:
    migrate.upgrade(scratch_url, BEFORE)
    ids = asyncio.run(_seed(scratch_url))
    migrate.upgrade(scratch_url, AFTER)

    rows = asyncio.run(
        _fetch(
            scratch_url,
            "SELECT id, source_type, source_id, subscription_item_id, purchase_id, grant_id, ends_at"
            " FROM entitlements.pool_provisions ORDER BY quantity DESC",
        )
    )
    made_up_sub, real, made_up_purchase = rows
    assert (real["id"], real["source_type"], real["subscription_item_id"]) == (
        ids["p1"],
        "subscription",
        ids["item"],
    )
    for row, source in ((made_up_sub, ids["made_up_sub"]), (made_up_purchase, ids["made_up_purchase"])):
        assert (row["source_type"], row["source_id"], row["grant_id"]) == ("grant", source, source)
        assert (row["subscription_item_id"], row["purchase_id"]) == (None, None)
    assert made_up_sub["ends_at"] is None  # the provision keeps its own window

    grants = asyncio.run(
        _fetch(
            scratch_url,
            "SELECT id, pool_id, quantity, reason, ends_at FROM entitlements.grants ORDER BY quantity",
        )
    )
    assert [(g["id"], g["pool_id"], int(g["quantity"])) for g in grants] == [
        (ids["made_up_purchase"], ids["pool"], 1),
        (ids["made_up_sub"], ids["pool"], 3),
    ]
    assert grants[0]["ends_at"].year == 2031  # its own end
    assert grants[1]["ends_at"].year == 2130  # open-ended: a grant ends, a century later
    assert "does not exist" in grants[1]["reason"]

    migrate.downgrade(scratch_url, BEFORE)
    columns = asyncio.run(
        _fetch(
            scratch_url,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'entitlements' AND table_name = 'pool_provisions'"
            " AND column_name IN ('subscription_item_id', 'purchase_id')",
        )
    )
    assert columns == []
    assert len(asyncio.run(_fetch(scratch_url, "SELECT id FROM entitlements.pool_provisions"))) == 3
    migrate.upgrade(scratch_url, AFTER)
