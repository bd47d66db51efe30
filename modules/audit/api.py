"""audit's public facade."""

from __future__ import annotations

from modules.audit.services.queries import LogFilter, list_logs, verify_chains
from modules.audit.services.reconcile import check_billing_documents

__all__ = ["LogFilter", "check_billing_documents", "list_logs", "verify_chains"]
