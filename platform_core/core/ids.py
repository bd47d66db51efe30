"""Identifiers: UUIDv7 where creation order helps (events, outbox rows, most primary keys)."""

from __future__ import annotations

import uuid

import uuid_utils


def uuid7() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
