"""billing's HTTP routes under /billing."""

from __future__ import annotations

from modules.billing.routes.accounts import AccountController
from modules.billing.routes.catalog import CatalogController
from modules.billing.routes.credit_grants import CreditGrantController
from modules.billing.routes.credit_notes import CreditNoteController
from modules.billing.routes.discounts import DiscountController
from modules.billing.routes.disputes import DisputeController
from modules.billing.routes.documents import DocumentController
from modules.billing.routes.dunning import DunningController
from modules.billing.routes.invoice_payments import InvoicePaymentController
from modules.billing.routes.invoices import InvoiceController
from modules.billing.routes.payment_methods import PaymentMethodController
from modules.billing.routes.purchases import PurchaseController
from modules.billing.routes.refunds import RefundController
from modules.billing.routes.subscriptions import SubscriptionController
from modules.billing.routes.tax_rates import TaxRateController
from modules.billing.routes.unpriced_usage import UnpricedUsageController
from modules.billing.routes.upcoming import UpcomingInvoiceController

CONTROLLERS = [AccountController, CatalogController, InvoiceController, SubscriptionController]
CONTROLLERS += [RefundController, CreditNoteController, DisputeController]
CONTROLLERS += [PaymentMethodController]
CONTROLLERS += [DunningController]
CONTROLLERS += [UnpricedUsageController]
CONTROLLERS += [InvoicePaymentController]
CONTROLLERS += [DiscountController]  # billing_0033_discounts_anytime
CONTROLLERS += [TaxRateController]  # billing_0028_tax_rates
CONTROLLERS += [CreditGrantController]  # billing_0027_credit_grants
CONTROLLERS += [DocumentController]  # invoice and credit note documents (PDF, HTML)
CONTROLLERS += [PurchaseController]  # billing_0029_purchases
CONTROLLERS += [UpcomingInvoiceController]  # billing_0032_plan_changes
