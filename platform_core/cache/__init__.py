"""Per-process hot caches, invalidated through PostgreSQL NOTIFY."""
