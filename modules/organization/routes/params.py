"""Query parameters shared by the list routes (the kernel's, declared once for every module)."""

from __future__ import annotations

from platform_core.http.list_params import Cursor, Limit

__all__ = ["Cursor", "Limit"]
