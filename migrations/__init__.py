"""Alembic environment and the linear revision history of every Keel schema."""

from pathlib import Path

from platform_core.persistence.migrate import Migrations

KEEL_MIGRATIONS = Migrations(Path(__file__).parent)
