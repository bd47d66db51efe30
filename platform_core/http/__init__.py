"""The HTTP surface: app factory, authentication middleware, problems, metrics, fast lane, idempotency."""
