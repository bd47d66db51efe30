"""What a webhook endpoint URL may be."""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

from platform_core.core.config import Settings
from platform_core.core.errors import Unprocessable


def _refuse(reason: str) -> Unprocessable:
    return Unprocessable(
        f"the endpoint URL {reason}",
        code="invalid_webhook_url",
        errors=[{"field": "url", "source": "body", "message": reason}],
    )


def checked_url(url: str, settings: Settings) -> str:
    """HTTPS with a host name or public address, no credentials, no fragment. Outside
    production plain HTTP and local addresses are allowed too (for development receivers)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise _refuse("is not a valid URL") from exc
    production = settings.environment == "production"
    allowed_schemes = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed_schemes:
        raise _refuse(f"must use {' or '.join(allowed_schemes)}")
    host = parts.hostname
    if not host:
        raise _refuse("has no host")
    if parts.username is not None or parts.password is not None:
        raise _refuse("must not contain credentials")
    if parts.fragment:
        raise _refuse("must not contain a fragment")
    if port == 0:
        raise _refuse("has an invalid port")
    if production and _is_internal(host):
        raise _refuse("must not point at a private, loopback or link-local address")
    return parts.geturl()


def _is_internal(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


async def points_inside(url: str) -> bool:
    """Whether the URL's host is, or resolves to, a non-public address now (checked before each
    production delivery: a public name may have been re-pointed since it was accepted)."""
    host = urlsplit(url).hostname or ""
    if _is_internal(host):
        return True
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return False  # unresolvable: the delivery itself fails with a clear error
    return any(not ipaddress.ip_address(info[4][0]).is_global for info in infos)
