"""Permissions billing's routes declare (`<module>.<resource>:<action>`)."""

from __future__ import annotations

# platform scope (operators): the catalog
CATALOG_READ = "billing.catalog:read"
CATALOG_WRITE = "billing.catalog:write"
# organization scope (owners and billing admins hold billing.*:*, admins billing.*:read)
ACCOUNTS_READ = "billing.accounts:read"
ACCOUNTS_WRITE = "billing.accounts:write"
SUBSCRIPTIONS_READ = "billing.subscriptions:read"
SUBSCRIPTIONS_WRITE = "billing.subscriptions:write"
INVOICES_READ = "billing.invoices:read"  # organization scope
INVOICES_WRITE = "billing.invoices:write"  # platform scope: recording payments, voiding
PAYMENTS_READ = "billing.payments:read"  # organization scope
PAYMENT_METHODS_READ = "billing.payment_methods:read"  # organization scope
PAYMENT_METHODS_WRITE = "billing.payment_methods:write"  # organization scope: default, detach
REFUNDS_READ = "billing.refunds:read"  # organization scope
REFUNDS_WRITE = "billing.refunds:write"  # platform scope only (operators), even under /orgs/{org_id}
CREDIT_NOTES_READ = "billing.credit_notes:read"  # organization scope
CREDIT_NOTES_WRITE = "billing.credit_notes:write"  # platform scope: issuing, voiding
DISPUTES_READ = "billing.disputes:read"  # organization scope; across organizations for operators
OVERDUE_READ = "billing.overdue:read"  # organization scope: where the account stands on the ladder
OVERDUE_POLICIES_READ = "billing.overdue_policies:read"  # platform scope (operators)
OVERDUE_POLICIES_WRITE = "billing.overdue_policies:write"  # platform scope (operators)
UNPRICED_USAGE_READ = "billing.unpriced_usage:read"  # platform scope (operators)
UNPRICED_USAGE_WRITE = "billing.unpriced_usage:write"  # platform scope: price or waive
INVOICES_PAY = "billing.invoices:pay"  # organization scope: collect an open invoice now
DISCOUNTS_READ = "billing.discounts:read"  # organization scope: the discounts applied
DISCOUNTS_REDEEM = "billing.discounts:redeem"  # organization scope: redeem a promotion code, remove it
DISCOUNTS_APPLY = "billing.discounts:apply"  # platform scope (operators): any coupon, remove any
TAX_RATES_READ = "billing.tax_rates:read"  # platform scope (operators)
TAX_RATES_WRITE = "billing.tax_rates:write"  # platform scope (operators)
PURCHASES_READ = "billing.purchases:read"  # organization scope
PURCHASES_WRITE = "billing.purchases:write"  # organization scope: buy one-time prices at operators' prices
SUBSCRIPTIONS_PAUSE = "billing.subscriptions:pause"  # organization scope: withholds payment (and service)
CREDIT_GRANTS_READ = "billing.credit_grants:read"  # organization scope: balance, grants, their ledger
CREDIT_GRANTS_WRITE = "billing.credit_grants:write"  # platform scope (operators): grant and void credit
