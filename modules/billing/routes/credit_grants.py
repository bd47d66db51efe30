"""Credit grants of a billing account: operators grant and void credit; the organization's
billing readers see the balance, the grants and each grant's ledger."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import CreditBalanceDTO, CreditGrantDTO, CreditTransactionDTO
from modules.billing.schemas import CreateCreditGrant
from modules.billing.services import credit_grants, credit_ledger
from modules.billing.services.accounts import account_row
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class CreditGrantController(Controller):
    path = "/billing/orgs/{org_id:uuid}/accounts/{account_id:uuid}"
    tags = ["billing"]

    @post(
        "/credit-grants",
        guards=[requires(perm.CREDIT_GRANTS_WRITE, platform_scope=True)],
        status_code=201,
        summary="Grant credit to a billing account (operators)",
        description="Promotional or paid credit in the account's currency, burnt by finalized"
        " invoices in burn order: lower priority first, then the soonest expiry, then the oldest."
        " Restricted to prices (applies_to_price_ids), it pays only their lines. 422 for a"
        " currency other than the account's (credit_currency_mismatch), an unknown price or one"
        " in another currency, or expires_at not after effective_at and now.",
    )
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[CreateCreditGrant],
        uow: NamedDependency[UnitOfWork],
    ) -> CreditGrantDTO:
        account = await account_row(uow, org_id, account_id)
        return await credit_grants.create_grant(
            uow,
            account,
            amount=data.amount,
            currency=data.currency or account.currency,
            category=data.category,
            description=data.description,
            source_type="operator",
            priority=data.priority,
            effective_at=data.effective_at,
            expires_at=data.expires_at,
            applies_to_price_ids=data.applies_to_price_ids,
        )

    @post(
        "/credit-grants/{grant_id:uuid}/void",
        guards=[requires(perm.CREDIT_GRANTS_WRITE, platform_scope=True)],
        status_code=200,
        summary="Void a credit grant (operators)",
        description="What is left of it is taken back (a `voided` ledger row); what invoices used"
        " stays used. Voiding it again changes nothing.",
    )
    async def void(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        grant_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> CreditGrantDTO:
        return await credit_grants.void_grant(uow, org_id, account_id, grant_id)

    @get(
        "/credit-balance",
        guards=[requires(perm.CREDIT_GRANTS_READ)],
        summary="The account's credit balance per currency, and what is left of each grant",
        description="balance: the sum of the ledger of the account's grants; available: what an"
        " invoice finalized now could use (effective, not expired). Grants with something left"
        " are listed in burn order.",
    )
    async def balance(
        self, org_id: FromPath[uuid.UUID], account_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> CreditBalanceDTO:
        return await credit_ledger.credit_balance(uow, org_id, account_id)

    @get("/credit-grants", guards=[requires(perm.CREDIT_GRANTS_READ)], summary="The account's credit grants")
    async def list_grants(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[CreditGrantDTO]:
        return await credit_ledger.list_grants(
            uow, org_id, account_id, limit=check_limit(limit), cursor=cursor
        )

    @get(
        "/credit-grants/{grant_id:uuid}", guards=[requires(perm.CREDIT_GRANTS_READ)], summary="A credit grant"
    )
    async def get_grant(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        grant_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> CreditGrantDTO:
        return await credit_ledger.get_grant(uow, org_id, account_id, grant_id)

    @get(
        "/credit-grants/{grant_id:uuid}/transactions",
        guards=[requires(perm.CREDIT_GRANTS_READ)],
        summary="A credit grant's ledger, oldest first",
    )
    async def transactions(
        self,
        org_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        grant_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[CreditTransactionDTO]:
        return await credit_ledger.list_transactions(
            uow, org_id, account_id, grant_id, limit=check_limit(limit), cursor=cursor
        )
