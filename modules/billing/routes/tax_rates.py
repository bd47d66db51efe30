"""Tax rates, for platform operators only (an organization's own roles never grant them)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from modules.billing import permissions as perm
from modules.billing.contracts import TaxRateDTO
from modules.billing.schemas import CreateTaxRate, SetTaxRateActive
from modules.billing.services import tax_rates
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit

Country = Annotated[str | None, QueryParameter(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


class TaxRateController(Controller):
    path = "/billing/tax-rates"
    tags = ["billing"]

    @post(
        "/",
        guards=[requires(perm.TAX_RATES_WRITE, platform_scope=True)],
        status_code=201,
        summary="Create a tax rate (operators; immutable except active, one active per country and state)",
    )
    async def create(self, data: JSONBody[CreateTaxRate], uow: NamedDependency[UnitOfWork]) -> TaxRateDTO:
        return await tax_rates.create_tax_rate(uow, data)

    @get(
        "/", guards=[requires(perm.TAX_RATES_READ, platform_scope=True)], summary="List tax rates (operators)"
    )
    async def list_rates(
        self,
        uow: NamedDependency[UnitOfWork],
        active: FromQuery[bool | None] = None,
        country: Country = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[TaxRateDTO]:
        return await tax_rates.list_tax_rates(
            uow, active=active, country=country, limit=check_limit(limit), cursor=cursor
        )

    @get(
        "/{tax_rate_id:uuid}",
        guards=[requires(perm.TAX_RATES_READ, platform_scope=True)],
        summary="A tax rate (operators)",
    )
    async def get_rate(
        self, tax_rate_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> TaxRateDTO:
        return await tax_rates.get_tax_rate(uow, tax_rate_id)

    @patch(
        "/{tax_rate_id:uuid}",
        guards=[requires(perm.TAX_RATES_WRITE, platform_scope=True)],
        summary="Stop or resume applying a tax rate to invoices finalized from now on (operators)",
    )
    async def set_active(
        self,
        tax_rate_id: FromPath[uuid.UUID],
        data: JSONBody[SetTaxRateActive],
        uow: NamedDependency[UnitOfWork],
    ) -> TaxRateDTO:
        return await tax_rates.set_tax_rate_active(uow, tax_rate_id, data.active)
