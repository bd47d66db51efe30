"""PostgreSQL: the engine and its naming conventions, keyset pagination, migrations."""
