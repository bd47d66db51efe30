"""Credentials: resolver ports, secrets, OIDC, rate limits."""
