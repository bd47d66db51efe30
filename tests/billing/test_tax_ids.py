"""Only operators verify tax ids (what the EU reverse charge needs): an organization's owner
may declare its VAT number, keep a verified one or drop it, never mark one verified."""

from __future__ import annotations

import uuid

import httpx

from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import ok, person_headers
from tests.organization.helpers import assert_problem

VAT = {"type": "eu_vat", "value": "FR12345678901"}
VERIFIED = {**VAT, "verified": True}


async def test_only_operators_mark_a_tax_id_verified(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    owner = await person_headers(runtime, "vat-owner")
    org = await ok(
        await client.post(
            "/organizations", json={"slug": f"vat-{uuid.uuid4().hex[:8]}", "name": "Vat Co"}, headers=owner
        ),
        201,
    )
    accounts = f"/billing/orgs/{org['id']}/accounts"
    body = {"name": "Vat Co", "email": "billing@vat.example", "currency": "EUR", "address": {"country": "FR"}}
    r = await client.post(accounts, json={**body, "tax_ids": [VERIFIED]}, headers=owner)
    assert_problem(r, 403, "tax_id_verification_operators_only")
    listed = await ok(await client.get(accounts, headers=owner))
    assert (
        listed["items"] if isinstance(listed, dict) else listed
    ) == []  # nothing written (a page, or a list)
    account = await ok(await client.post(accounts, json={**body, "tax_ids": [VAT]}, headers=owner), 201)
    url = f"{accounts}/{account['id']}"

    for claim in ([VERIFIED], [{**VAT, "verified": False}]):
        assert_problem(await client.patch(url, json={"tax_ids": claim}, headers=owner), 403)
    assert (await ok(await client.get(url, headers=owner)))["tax_ids"] == [VAT]

    # the operator verifies it; the owner may keep it as it is (beside a new one) or drop it
    assert (await ok(await client.patch(url, json={"tax_ids": [VERIFIED]}, headers=admin_headers)))[
        "tax_ids"
    ] == [VERIFIED]
    kept = [VERIFIED, {"type": "eu_vat", "value": "DE123456789"}]
    assert (await ok(await client.patch(url, json={"tax_ids": kept}, headers=owner)))["tax_ids"] == kept
    other = [{**VERIFIED, "value": "FR99999999999"}]
    assert_problem(await client.patch(url, json={"tax_ids": other}, headers=owner), 403)
    assert (await ok(await client.patch(url, json={"tax_ids": []}, headers=owner)))["tax_ids"] == []
