"""Stored allocations (operators): compute a fiscal year's allocation as a draft, approve it
once, pay each row as credit or record it paid in cash."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from modules.cooperative import permissions as perm
from modules.cooperative.contracts import AllocationDTO, AllocationRowDTO
from modules.cooperative.schemas import CashPayout, ComputeAllocation, PayAllocationRow
from modules.cooperative.services import allocations, payouts
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class AllocationController(Controller):
    path = "/cooperative/allocations"
    tags = ["cooperative"]

    @post(
        "/",
        guards=[requires(perm.ALLOCATIONS_WRITE)],
        status_code=201,
        summary="Compute a fiscal year's allocation as a draft (operators)",
        description="The surplus (minor units) divided by largest remainder among the patrons with"
        " positive net patronage in the year and currency: one row per patron, adding up exactly."
        " 409 fiscal_year_not_started, fiscal_year_already_approved, no_patronage (a positive surplus"
        " nobody earned).",
    )
    async def compute(
        self, data: JSONBody[ComputeAllocation], uow: NamedDependency[UnitOfWork]
    ) -> AllocationDTO:
        return await allocations.compute_allocation(
            uow, fiscal_year=data.fiscal_year, currency=data.currency, surplus=data.surplus
        )

    @get("/", guards=[requires(perm.ALLOCATIONS_READ)], summary="Stored allocations (operators)")
    async def list_allocations(
        self,
        uow: NamedDependency[UnitOfWork],
        fiscal_year: Annotated[int | None, Parameter(ge=2000, le=2200)] = None,
        currency: Annotated[str | None, Parameter(pattern=r"^[A-Z]{3}$")] = None,
        status: FromQuery[Literal["draft", "approved"] | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[AllocationDTO]:
        return await allocations.list_allocations(
            uow,
            fiscal_year=fiscal_year,
            currency=currency,
            status=status,
            limit=check_limit(limit),
            cursor=cursor,
        )

    @get(
        "/{allocation_id:uuid}", guards=[requires(perm.ALLOCATIONS_READ)], summary="An allocation (operators)"
    )
    async def get_allocation(
        self, allocation_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> AllocationDTO:
        return await allocations.get_allocation(uow, allocation_id)

    @get(
        "/{allocation_id:uuid}/rows",
        guards=[requires(perm.ALLOCATIONS_READ)],
        summary="An allocation's rows by member number, with each one's payout (operators)",
    )
    async def rows(
        self,
        allocation_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        paid: FromQuery[bool | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[AllocationRowDTO]:
        return await allocations.list_rows(
            uow, allocation_id, paid=paid, limit=check_limit(limit), cursor=cursor
        )

    @post(
        "/{allocation_id:uuid}/approve",
        guards=[requires(perm.ALLOCATIONS_WRITE)],
        status_code=200,
        summary="Approve a draft allocation: stored immutably, one per fiscal year and currency (operators)",
        description="409 allocation_already_approved, 409 fiscal_year_already_approved (another"
        " allocation of the year and currency is), 409 allocation_stale (patronage changed since the"
        " draft was computed: compute a new one). Later refunds, credit notes and lost disputes count"
        " in the next fiscal year that is not approved.",
    )
    async def approve(
        self, allocation_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> AllocationDTO:
        return await allocations.approve_allocation(uow, allocation_id)

    @post(
        "/{allocation_id:uuid}/rows/{row_id:uuid}/pay",
        guards=[requires(perm.ALLOCATIONS_WRITE)],
        status_code=200,
        summary="Pay an approved row as patronage dividend credit, or record a cash payout (operators)",
        description="Once per row: paying again the same way returns the payout made (no second grant);"
        " another way is 409 allocation_row_already_paid. 409 allocation_not_approved, 409"
        " nothing_to_pay (a row of 0).",
    )
    async def pay_row(
        self,
        allocation_id: FromPath[uuid.UUID],
        row_id: FromPath[uuid.UUID],
        data: JSONBody[PayAllocationRow],
        uow: NamedDependency[UnitOfWork],
    ) -> AllocationRowDTO:
        if isinstance(data, CashPayout):
            return await payouts.pay_row(
                uow, allocation_id, row_id, method="cash", reference=data.reference, paid_at=data.paid_at
            )
        return await payouts.pay_row(
            uow, allocation_id, row_id, method="credit", reference=None, paid_at=None
        )

    @post(
        "/{allocation_id:uuid}/pay",
        guards=[requires(perm.ALLOCATIONS_WRITE)],
        status_code=200,
        summary="Pay every unpaid row of an approved allocation as patronage dividend credit (operators)",
    )
    async def pay_all(
        self, allocation_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> AllocationDTO:
        await payouts.pay_all_as_credit(uow, allocation_id)
        return await allocations.get_allocation(uow, allocation_id)
