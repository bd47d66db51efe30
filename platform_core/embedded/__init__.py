"""Embedded PostgreSQL and Redis for a machine with none configured."""
