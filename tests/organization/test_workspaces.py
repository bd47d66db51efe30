from __future__ import annotations

import httpx

from tests.organization.helpers import MakePerson, assert_problem, create_org


async def test_workspace_crud_and_pagination(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    url = f"/orgs/{org['id']}/workspaces"
    created = []
    for slug in ("alpha", "beta", "gamma"):
        r = await client.post(url, json={"slug": slug, "name": slug.title()}, headers=owner.headers)
        assert r.status_code == 201, r.text
        created.append(r.json())
    assert_problem(
        await client.post(url, json={"slug": "alpha", "name": "again"}, headers=owner.headers),
        409,
        "slug_taken",
    )

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(url, params=params, headers=owner.headers)).json()
        seen += [w["slug"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["alpha", "beta", "gamma"]

    ws = created[0]
    r = await client.patch(
        f"{url}/{ws['id']}", json={"status": "archived", "slug": "alpha-old"}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["slug"]) == ("archived", "alpha-old")
    r = await client.get(url, params={"status": "archived"}, headers=owner.headers)
    assert [w["id"] for w in r.json()["items"]] == [ws["id"]]

    assert (await client.delete(f"{url}/{ws['id']}", headers=owner.headers)).status_code == 204
    assert_problem(await client.get(f"{url}/{ws['id']}", headers=owner.headers), 404)
    assert_problem(
        await client.get(url, params={"cursor": "not-a-cursor"}, headers=owner.headers), 400, "invalid_cursor"
    )


async def test_workspace_of_another_org_is_not_found(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    owner = await make_person()
    org_a, org_b = await create_org(client, owner), await create_org(client, owner)
    r = await client.post(
        f"/orgs/{org_a['id']}/workspaces", json={"slug": "mine", "name": "M"}, headers=owner.headers
    )
    ws = r.json()
    # the same person owns both, but the workspace belongs to A only
    assert_problem(await client.get(f"/orgs/{org_b['id']}/workspaces/{ws['id']}", headers=owner.headers), 404)
    r = await client.patch(
        f"/orgs/{org_b['id']}/workspaces/{ws['id']}", json={"name": "x"}, headers=owner.headers
    )
    assert_problem(r, 404)
