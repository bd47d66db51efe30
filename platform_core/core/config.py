"""Settings read from the environment once, as one immutable msgspec struct."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import msgspec


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".keel")
    audit_archive_dir: Path | None = (
        None  # where retention writes audit archives; default <data_dir>/audit-archive
    )
    token_pepper: str = ""
    environment: str = "development"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line (platform_core.core.logs)
    db_pool_size: int = 10
    # how long a request waits for a pooled connection before answering 503 (a stalled database)
    db_pool_timeout_seconds: float = 5.0
    outbox_batch_size: int = 500
    outbox_lease_seconds: int = 60
    outbox_max_attempts: int = 8
    outbox_sweep_seconds: float = 5.0
    # inbound webhook signing secrets, "provider=secret,provider=secret"; `stripe` is verified
    # with Stripe's scheme, any other provider with Standard Webhooks'
    inbound_webhook_secrets: str = ""
    job_tick_seconds: float = 30.0  # how often each worker looks for due scheduled jobs
    # request bodies larger than this answer 413; 4 MiB fits a batch of 1,000 usage events of
    # up to ~4 KiB each (the batch with the longest ids and no properties is ~0.5 MiB)
    max_body_bytes: int = 4 * 1024 * 1024
    # Redis never delays an answer: after-commit drain nudges give up after this long (the
    # sweep delivers instead), rate limiting too, failing open (allow) or closed (503)
    nudge_timeout_seconds: float = 0.25
    rate_limit_timeout_seconds: float = 0.25
    rate_limit_fail_open: bool = True
    ready_check_timeout_seconds: float = 1.0  # each check of GET /ready
    # the Stripe payment provider (modules/integration/services/providers/stripe.py); the API
    # base is for a test double or a proxy, Stripe's own when unset
    stripe_api_key: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    # a renewal's invoice stays a draft this long before the finalize job finalizes it
    # (Stripe's default: one hour); a subscription's first invoice is finalized at once
    invoice_finalize_delay_seconds: int = 3600
    # the issuer's country (ISO 3166-1 alpha-2): EU reverse charge applies to EU business
    # customers of other member states (modules/billing/services/tax_math.py)
    billing_issuer_country: str = "DE"
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_jwks_file: str | None = None
    # who issues invoices and credit notes, as their documents show it (the country is
    # `billing_issuer_country`); address lines are separated by newlines (or a literal "\n")
    billing_issuer_name: str = "Keel Cooperative"
    billing_issuer_address: str = ""
    billing_issuer_tax_id: str = ""


_ENV_PREFIX = "KEEL_"
_UNPREFIXED = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from `DATABASE_URL`, `REDIS_URL` and `KEEL_<FIELD>` variables."""
    env = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for field in Settings.__struct_fields__:
        name = _UNPREFIXED.get(field, _ENV_PREFIX + field.upper())
        value = env.get(name)
        if value not in (None, ""):
            raw[field] = value
    return msgspec.convert(raw, Settings, strict=False, dec_hook=_decode_path)


def _decode_path(kind: type, value: object) -> object:
    # msgspec has no built-in conversion from str to pathlib.Path.
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot convert {value!r} to {kind}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env()
