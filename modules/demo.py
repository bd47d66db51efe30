"""`keel demo`: seed a demo cooperative through Keel's own HTTP API, in process.

Everything goes through the public routes a client would call (so the demo is also a worked
example of them): an operator, two people, an organization with two workspaces, an
entitlement catalog, a pool, a billing product and price, a subscription whose first invoice is
paid (so the organization has patronage), some usage, and a webhook endpoint left disabled. It prints the
tokens and ids to explore with."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import click
import httpx

from modules.identity import api as identity_api
from platform_core.cli.support import with_runtime
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE
from platform_core.http.app import create_app
from platform_core.runtime.runtime import Runtime

ORG_SLUG = "analytical-engines"
PLAN = "cooperative-standard"


@dataclass(frozen=True)
class Demo:
    operator_token: str
    owner_token: str
    member_token: str
    org_id: str
    workspaces: dict[str, str]


class DemoAlreadySeeded(Exception):
    pass


class Client:
    """The in-process API, failing loudly on any unexpected answer."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, method: str, url: str, token: str, expect: int = 200, **kwargs: Any) -> Any:
        r = await self.http.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if r.status_code != expect:
            raise click.ClickException(f"{method} {url} answered {r.status_code}: {r.text}")
        return r.json() if r.content else None


async def _person(runtime: Runtime, name: str, email: str, scopes: list[str]) -> tuple[str, str]:
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name=name, email=email)
        issued = await identity_api.issue_token(uow, person_id=person.id, name="demo", scopes=scopes)
    return str(person.id), issued.token


async def seed(runtime: Runtime) -> Demo:
    transport = httpx.ASGITransport(app=create_app(runtime), client=("127.0.0.1", 0))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.demo") as http:
        api = Client(http)
        _, operator = await _person(
            runtime, "Demo Operator", "operator@demo.keel", [PLATFORM_ADMIN_SCOPE, "*"]
        )
        if await _slug_taken(api, operator, ORG_SLUG):
            raise DemoAlreadySeeded()
        ada_id, ada = await _person(runtime, "Ada Lovelace", "ada@demo.keel", ["*"])
        _, charles = await _person(runtime, "Charles Babbage", "charles@demo.keel", ["*"])

        org = await api.call(
            "POST", "/organizations", operator, 201,
            json={"slug": ORG_SLUG, "name": "Analytical Engines", "owner_person_id": ada_id},
        )  # fmt: skip
        org_id = org["id"]
        workspaces = {}
        for slug in ("research", "production"):
            ws = await api.call(
                "POST", f"/orgs/{org_id}/workspaces", ada, 201, json={"slug": slug, "name": slug.title()}
            )
            workspaces[slug] = ws["id"]
        roles = await api.call("GET", f"/orgs/{org_id}/roles", ada, params={"limit": 500})
        (admin_role,) = [r["id"] for r in roles["items"] if r["key"] == "admin"]
        invitation = await api.call(
            "POST", f"/orgs/{org_id}/invitations", ada, 201,
            json={"email": "charles@demo.keel", "role_id": admin_role},
        )  # fmt: skip
        await api.call("POST", "/invitations/accept", charles, json={"token": invitation["token"]})

        await _catalog(api, operator)
        pool = await api.call("POST", f"/entitlements/orgs/{org_id}/pools", ada, 201, json={"name": "Main"})
        for ws_id in workspaces.values():
            await api.call("PUT", f"/entitlements/orgs/{org_id}/pools/{pool['id']}/workspaces/{ws_id}", ada)
        await _subscribe(api, operator, ada, org_id, pool["id"])
        events = [
            {"event_id": str(uuid.uuid4()), "workspace": workspaces["research"], "resource_key": "api.calls",
             "quantity": 1}
            for _ in range(120)
        ]  # fmt: skip
        await api.call(
            "POST", "/entitlements/usage-events", ada, params={"org_id": org_id}, json={"events": events}
        )
        await api.call(
            "POST", f"/integration/orgs/{org_id}/webhook-endpoints", ada, 201,
            json={"url": "https://hooks.example.org/keel-demo", "event_types": ["*"],
                  "description": "an example receiver (disabled: nothing listens there)"},
        )  # fmt: skip
        endpoints = await api.call("GET", f"/integration/orgs/{org_id}/webhook-endpoints", ada)
        for endpoint in endpoints["items"]:
            await api.call(
                "PATCH", f"/integration/orgs/{org_id}/webhook-endpoints/{endpoint['id']}", ada,
                json={"status": "disabled"},
            )  # fmt: skip
    return Demo(operator, ada, charles, org_id, workspaces)


async def _subscribe(api: Client, operator: str, owner: str, org_id: str, pool_id: str) -> None:
    """The cooperative's plan: a product pinned to the entitlement set, a monthly price, the
    organization's billing account and a subscription; its first invoice is recorded as paid,
    which makes it patronage."""
    product = await api.call(
        "POST", "/billing/products", operator, 201,
        json={"key": PLAN, "name": "Cooperative standard", "entitlement_set_key": PLAN},
    )  # fmt: skip
    price = await api.call(
        "POST", f"/billing/products/{product['id']}/prices", operator, 201,
        json={"currency": "EUR", "unit_amount": 4900, "interval": "month", "lookup_key": f"{PLAN}-monthly"},
    )  # fmt: skip
    account = await api.call(
        "POST", f"/billing/orgs/{org_id}/accounts", owner, 201,
        json={"name": "Analytical Engines", "email": "billing@demo.keel", "currency": "EUR"},
    )  # fmt: skip
    await api.call(
        "POST", f"/billing/orgs/{org_id}/subscriptions", owner, 201,
        json={"account_id": account["id"], "pool_id": pool_id, "items": [{"price_id": price["id"]}]},
    )  # fmt: skip
    (invoice,) = (await api.call("GET", f"/billing/orgs/{org_id}/invoices", owner))["items"]
    await api.call("POST", f"/billing/invoices/{invoice['id']}/mark-paid", operator)


async def _slug_taken(api: Client, operator: str, slug: str) -> bool:
    """Operators list every organization; the demo is for small, fresh databases."""
    cursor = None
    while True:
        page = await api.call(
            "GET", "/organizations", operator, params={"limit": 500, "cursor": cursor or ""}
        )
        if any(org["slug"] == slug for org in page["items"]):
            return True
        cursor = page["next_cursor"]
        if cursor is None:
            return False


async def _catalog(api: Client, operator: str) -> None:
    keys = [
        {"key": "api.calls", "name": "API calls", "kind": "numeric", "aggregation": "SUM", "unit": "call"},
        {"key": "seats", "name": "Seats", "kind": "numeric", "aggregation": "MAX", "unit": "seat"},
        {"key": "feature.sso", "name": "Single sign-on", "kind": "boolean"},
    ]
    for key in keys:
        await api.call("POST", "/entitlements/resource-keys", operator, 201, json=key)
    rules = [
        {"resource_key": "api.calls", "rule_type": "quota", "amount": 10000, "reset_period": "month"},
        {"resource_key": "seats", "rule_type": "limit", "amount": 25},
        {"resource_key": "feature.sso", "rule_type": "boolean"},
    ]
    await api.call(
        "POST", "/entitlements/sets", operator, 201,
        json={"key": "cooperative-standard", "name": "Cooperative standard", "rules": rules},
    )  # fmt: skip


def report(demo: Demo) -> str:
    research = demo.workspaces["research"]
    return f"""Demo cooperative "Analytical Engines" seeded.

  organization   {demo.org_id}
  workspaces     research {research}
                 production {demo.workspaces["production"]}
  tokens         operator (platform admin)  {demo.operator_token}
                 Ada Lovelace (owner)       {demo.owner_token}
                 Charles Babbage (admin)    {demo.member_token}

Try (with `keel serve` running):
  curl -s "http://127.0.0.1:8000/entitlements/check?workspace={research}&key=api.calls" \\
    -H "Authorization: Bearer {demo.owner_token}"
  curl -s "http://127.0.0.1:8000/orgs/{demo.org_id}/members" -H "$AUTH"
  curl -s "http://127.0.0.1:8000/billing/orgs/{demo.org_id}/invoices" -H "$AUTH"
  curl -s "http://127.0.0.1:8000/cooperative/orgs/{demo.org_id}/patronage" -H "$AUTH"
  curl -s "http://127.0.0.1:8000/audit/logs?org_id={demo.org_id}" -H "$AUTH"
  (AUTH="Authorization: Bearer <Ada's token>")
"""


@click.command("demo")
def demo_command() -> None:
    """Seed a demo cooperative (people, an organization, entitlements, usage) and print tokens."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per in-process call
    try:
        click.echo(report(with_runtime(seed)))
    except DemoAlreadySeeded:
        click.echo(f"the demo organization {ORG_SLUG!r} already exists; nothing was changed", err=True)
