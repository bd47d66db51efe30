"""Patronage: a member organization reads its own; operators read every patron and preview
how a surplus would divide."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from modules.cooperative import permissions as perm
from modules.cooperative.contracts import AllocationReport, PatronageDTO, PatronDTO
from modules.cooperative.services import patronage
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class CooperativeController(Controller):
    path = "/cooperative"
    tags = ["cooperative"]

    @get(
        "/orgs/{org_id:uuid}/patronage",
        guards=[requires(perm.PATRONAGE_READ)],
        summary="The organization's patronage",
    )
    async def org_patronage(
        self, org_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> PatronageDTO:
        return await patronage.patronage_of(uow, org_id)

    @get(
        "/patrons", guards=[requires(perm.PATRONS_READ)], summary="Every patron, by member number (operators)"
    )
    async def patrons(
        self, uow: NamedDependency[UnitOfWork], limit: Limit = None, cursor: Cursor = None
    ) -> Page[PatronDTO]:
        return await patronage.list_patrons(uow, limit=check_limit(limit), cursor=cursor)

    @get(
        "/allocations/preview",
        guards=[requires(perm.ALLOCATIONS_READ)],
        summary="Divide a fiscal year's surplus in proportion to patronage (a report; nothing is stored)",
    )
    async def preview(
        self,
        uow: NamedDependency[UnitOfWork],
        fiscal_year: Annotated[int, Parameter(ge=2000, le=2200)],
        currency: Annotated[str, Parameter(pattern=r"^[A-Z]{3}$")],
        surplus: Annotated[int, Parameter(ge=0, le=10**15, description="minor units")],
    ) -> AllocationReport:
        return await patronage.allocate(uow, fiscal_year=fiscal_year, currency=currency, surplus=surplus)
