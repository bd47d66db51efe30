"""One-time purchases: an organization's account buys `one_time` prices at the operators'
amounts. Each item becomes a purchase, billed exactly once — on an invoice finalized at once, or
as a pending charge the account's next invoice carries (Stripe's `add_invoice_items`) — and
provisions its product's entitlement set into the pool through `entitlements.api`, all in one
transaction.

The provision does not expire: a one-time purchase buys capacity for good (a pack of seats, an
add-on), and there is no period after which it would be billed again. Voiding the invoice that
bills a purchase voids the purchase and revokes its provision (`on_invoice_voided`); a refund or
a credit note is a money matter and leaves the provision, which an operator may end
(`POST /entitlements/orgs/{org_id}/provisions/{id}/end`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, or_, select

from modules.billing.contracts import (
    PURCHASE_CREATED,
    PURCHASE_VOIDED,
    InvoiceDTO,
    PurchaseDTO,
    PurchaseOrderDTO,
)
from modules.billing.models import BillingAccount, PendingCharge, Price, Product
from modules.billing.models.purchases import Purchase
from modules.billing.schemas import CreatePurchase
from modules.billing.services.accounts import account_row
from modules.billing.services.catalog import price_row, product_row, tiers_of
from modules.billing.services.invoice_finalize import issue_invoice
from modules.billing.services.invoice_lines import Line
from modules.billing.services.invoices import add_pending_charge
from modules.billing.services.money import amount_for
from modules.entitlements import api as ent_api
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


@dataclass(frozen=True)
class _Item:
    price: Price
    product: Product
    quantity: int

    @property
    def amount(self) -> int:
        """Minor units for the quantity: per unit, or through the price's tiers (integers, no
        rounding)."""
        price = self.price
        return amount_for(
            self.quantity, unit_amount=price.unit_amount, tiers=tiers_of(price), tiers_mode=price.tiers_mode
        )

    @property
    def description(self) -> str:
        return f"{self.quantity} x {self.product.name}"


async def _items(uow: UnitOfWork, data: CreatePurchase, currency: str) -> list[_Item]:
    """The items, each an active one-time price of an active product in the account's currency."""
    if len({i.price_id for i in data.items}) != len(data.items):
        raise Unprocessable("each price may appear once; use its quantity", code="duplicate_price")
    items = []
    for wanted in data.items:
        price = await price_row(uow, wanted.price_id)
        product = await product_row(uow, price.product_id)
        if not price.active or not product.active:
            raise Conflict(f"price {price.id} is not for sale any more", code="price_inactive")
        if price.type != "one_time":
            raise Unprocessable(
                f"price {price.id} is recurring; subscribe to it instead", code="price_not_one_time"
            )
        if price.currency != currency:
            raise Unprocessable(
                f"price {price.id} is in {price.currency}, the account in {currency}",
                code="currency_mismatch",
            )
        items.append(_Item(price, product, wanted.quantity))
    return items


async def _check_pool(uow: UnitOfWork, org_id: uuid.UUID, data: CreatePurchase, items: list[_Item]) -> None:
    if data.pool_id is not None:
        if not await ent_api.pool_in_org(uow, org_id, data.pool_id):
            raise NotFound(f"pool {data.pool_id} does not exist", code="pool_not_found")
    elif any(item.product.entitlement_set_id is not None for item in items):
        raise Unprocessable(
            "a product bought provisions an entitlement set: name the pool that receives it",
            code="pool_required",
            errors=[{"field": "pool_id", "message": "required"}],
        )


async def purchase(uow: UnitOfWork, org_id: uuid.UUID, data: CreatePurchase) -> PurchaseOrderDTO:
    """Buy the items for the account: bill them (now or with the next invoice) and provision
    their products' entitlement sets, in this transaction."""
    account = await account_row(uow, org_id, data.account_id)
    if account.status != "active":
        raise Conflict("the billing account is closed", code="billing_account_closed")
    items = await _items(uow, data, account.currency)
    await _check_pool(uow, org_id, data, items)
    rows = [
        Purchase(
            id=uuid7(),
            org_id=org_id,
            account_id=account.id,
            pool_id=data.pool_id if item.product.entitlement_set_id is not None else None,
            price_id=item.price.id,
            quantity=item.quantity,
            amount=item.amount,
            currency=account.currency,
            description=item.description,
            created_by=uow.actor.id,
        )
        for item in items
    ]
    invoice = await _bill(uow, account, items, rows, now=data.invoice_now)
    uow.session.add_all(rows)
    await uow.session.flush()
    for row, item in zip(rows, items, strict=True):
        if item.product.entitlement_set_id is not None and row.pool_id is not None:
            provision = await ent_api.provision(
                uow,
                org_id=org_id,
                pool_id=row.pool_id,
                source_type="purchase",
                source_id=row.id,
                entitlement_set_id=item.product.entitlement_set_id,
                quantity=Decimal(row.quantity),
            )
            row.provision_id = provision.id
    await uow.session.flush()
    dtos = []
    for row in rows:
        await uow.session.refresh(row, ["created_at"])
        dto = purchase_dto(row, row.invoice_id)
        await _announce(uow, PURCHASE_CREATED, dto)
        dtos.append(dto)
    return PurchaseOrderDTO(purchases=dtos, invoice=invoice)


async def _bill(
    uow: UnitOfWork, account: BillingAccount, items: list[_Item], rows: list[Purchase], *, now: bool
) -> InvoiceDTO | None:
    """An invoice finalized now, whose lines are the purchases (it also takes the account's
    other pending charges, as every invoice does); or one pending charge per purchase."""
    if now:
        lines = [
            Line(
                source="purchase",
                source_id=row.id,
                description=row.description,
                amount=row.amount,
                quantity=row.quantity,
                unit_amount=item.price.unit_amount,
                price_id=item.price.id,
            )
            for row, item in zip(rows, items, strict=True)
        ]
        invoice = await issue_invoice(uow, account, lines, finalize_now=True)
        for row in rows:
            row.invoice_id = invoice.id
        return invoice
    for row, item in zip(rows, items, strict=True):
        charge = await add_pending_charge(
            uow,
            account,
            kind="purchase",
            description=row.description,
            amount=row.amount,
            price_id=item.price.id,
        )
        row.pending_charge_id = charge.id
    return None


def purchase_dto(row: Purchase, invoice_id: uuid.UUID | None) -> PurchaseDTO:
    return PurchaseDTO(
        id=row.id,
        org_id=row.org_id,
        account_id=row.account_id,
        pool_id=row.pool_id,
        price_id=row.price_id,
        description=row.description,
        quantity=row.quantity,
        amount=row.amount,
        currency=row.currency,
        status=row.status,  # type: ignore[arg-type]
        invoice_id=invoice_id,
        pending_charge_id=row.pending_charge_id,
        provision_id=row.provision_id,
        created_by=row.created_by,
        created_at=row.created_at,
        voided_at=row.voided_at,
    )


async def _announce(uow: UnitOfWork, event_type: str, dto: PurchaseDTO) -> None:
    await uow.emit(
        event_type,
        subject=Subject(type="purchase", id=str(dto.id), name=dto.description),
        data=dto,
        org_id=dto.org_id,
    )


def _with_invoice() -> Select[Any]:
    """Purchases with the invoice that bills them: their own, or the one that took their
    pending charge (one join, no query per row)."""
    stmt = select(Purchase, PendingCharge.invoice_id).outerjoin(
        PendingCharge, PendingCharge.id == Purchase.pending_charge_id
    )
    return cast("Select[Any]", stmt)  # two columns; keyset() takes Select[Any]


def _dto_of(row: tuple[Purchase, uuid.UUID | None]) -> PurchaseDTO:
    purchase_row, charged_on = row
    return purchase_dto(purchase_row, purchase_row.invoice_id or charged_on)


async def list_purchases(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[PurchaseDTO]:
    stmt = _with_invoice().where(Purchase.org_id == org_id)
    rows = (
        await uow.session.execute(keyset(stmt, [Purchase.id.expression], cursor=cursor, limit=limit))
    ).all()
    return page_of(rows, limit, lambda r: [str(r[0].id)], lambda r: _dto_of((r[0], r[1])))


async def get_purchase(uow: UnitOfWork, org_id: uuid.UUID, purchase_id: uuid.UUID) -> PurchaseDTO:
    row = (
        await uow.session.execute(
            _with_invoice().where(Purchase.id == purchase_id, Purchase.org_id == org_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"purchase {purchase_id} does not exist", code="purchase_not_found")
    return _dto_of((row[0], row[1]))


async def on_invoice_voided(uow: UnitOfWork, event: Event) -> None:
    """`billing.invoice.voided`: the purchases that invoice billed (on their own invoice or as
    pending charges it carried) were never owed, so they are void and their provisions revoked,
    in the voiding transaction. Voiding twice changes nothing."""
    invoice_id = uuid.UUID(event.subject.id)
    rows = (
        await uow.session.execute(
            _with_invoice()
            .where(
                or_(Purchase.invoice_id == invoice_id, PendingCharge.invoice_id == invoice_id),
                Purchase.status == "completed",
            )
            .order_by(Purchase.id)
            .with_for_update(of=Purchase)
        )
    ).all()
    now = utcnow()
    for purchase_row, charged_on in rows:
        purchase_row.status, purchase_row.voided_at = "void", now
        if purchase_row.provision_id is not None:
            await ent_api.deprovision(uow, purchase_row.provision_id, org_id=purchase_row.org_id, revoke=True)
        await uow.session.flush()
        await _announce(
            uow, PURCHASE_VOIDED, purchase_dto(purchase_row, purchase_row.invoice_id or charged_on)
        )
