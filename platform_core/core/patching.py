"""PATCH semantics for msgspec request bodies: fields left `UNSET` are untouched, `null`
clears, anything else replaces."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec


def apply_patch(
    target: Any, patch: msgspec.Struct, normalize: Mapping[str, Callable[[Any], Any]] | None = None
) -> dict[str, Any]:
    """Set on `target` every field the patch sends whose (normalized) value differs; returns
    those fields with their new values."""
    changed: dict[str, Any] = {}
    for name in patch.__struct_fields__:
        value = getattr(patch, name)
        if value is msgspec.UNSET:
            continue
        if normalize and name in normalize and value is not None:
            value = normalize[name](value)
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed[name] = value
    return changed
