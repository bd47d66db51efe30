"""Building blocks for Alembic revisions."""

from __future__ import annotations

from alembic import op

UPDATED_AT_FUNCTION = "platform.set_updated_at"


def add_updated_at_trigger(schema: str, table: str) -> None:
    op.execute(
        f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {schema}.{table} "
        f"FOR EACH ROW EXECUTE FUNCTION {UPDATED_AT_FUNCTION}()"
    )
