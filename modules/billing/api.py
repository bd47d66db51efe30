"""billing's public facade: async functions taking a UnitOfWork (the reconciliation feeds
take a session: they only read, in the caller's snapshot)."""

from __future__ import annotations

from modules.billing.services.accounts import get_account
from modules.billing.services.credit_grants import grant_credit
from modules.billing.services.reconcile import account_nets, check_invariants, money_documents
from modules.billing.services.subscriptions import get_subscription

__all__ = [
    "account_nets",
    "check_invariants",
    "get_account",
    "get_subscription",
    "grant_credit",
    "money_documents",
]
