"""The persons behind an organization's memberships, read through identity's facade."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from modules.identity import api as identity_api
from modules.identity.contracts import PersonDTO
from modules.organization.models import OrgMember
from modules.organization.services.paging import by_id
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of


async def list_org_persons(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[PersonDTO]:
    """Active and suspended members' persons, in membership order."""
    stmt = select(OrgMember.id, OrgMember.person_id).where(
        OrgMember.org_id == org_id, OrgMember.status != "removed"
    )
    rows = list(await uow.session.execute(by_id(stmt, OrgMember.id, cursor=cursor, limit=limit)))
    page = page_of(rows, limit, lambda r: [str(r.id)])
    items = [await identity_api.get_person(uow, row.person_id) for row in page.items]
    return Page(items=items, next_cursor=page.next_cursor)
