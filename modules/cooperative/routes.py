"""cooperative's routes under /cooperative."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from modules.cooperative.contracts import AllocationReport, PatronageDTO, PatronDTO
from modules.cooperative.services import patronage
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork

PATRONAGE_READ = "cooperative.patronage:read"  # organization scope (members hold cooperative.*:read)
PATRONS_READ = "cooperative.patrons:read"  # platform scope
ALLOCATIONS_READ = "cooperative.allocations:read"  # platform scope


class CooperativeController(Controller):
    path = "/cooperative"
    tags = ["cooperative"]

    @get(
        "/orgs/{org_id:uuid}/patronage",
        guards=[requires(PATRONAGE_READ)],
        summary="The organization's patronage",
    )
    async def org_patronage(
        self, org_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> PatronageDTO:
        return await patronage.patronage_of(uow, org_id)

    @get("/patrons", guards=[requires(PATRONS_READ)], summary="Every patron (operators)")
    async def patrons(self, uow: NamedDependency[UnitOfWork]) -> list[PatronDTO]:
        return await patronage.list_patrons(uow)

    @get(
        "/allocations",
        guards=[requires(ALLOCATIONS_READ)],
        summary="Divide a fiscal year's surplus in proportion to patronage (a report; nothing is stored)",
    )
    async def allocations(
        self,
        uow: NamedDependency[UnitOfWork],
        fiscal_year: Annotated[int, Parameter(ge=2000, le=2200)],
        currency: Annotated[str, Parameter(pattern=r"^[A-Z]{3}$")],
        surplus: Annotated[int, Parameter(ge=0, le=10**15, description="minor units")],
    ) -> AllocationReport:
        return await patronage.allocate(uow, fiscal_year=fiscal_year, currency=currency, surplus=surplus)
