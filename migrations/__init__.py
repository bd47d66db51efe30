"""Alembic environment and the linear revision history of every Keel schema."""
