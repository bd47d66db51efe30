"""audit's public facade."""

from __future__ import annotations

from modules.audit.services.queries import LogFilter, list_logs, verify_chains

__all__ = ["LogFilter", "list_logs", "verify_chains"]
