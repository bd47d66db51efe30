"""Which failures are outages of a dependency (PostgreSQL, Redis) rather than bugs. The HTTP
boundary answers them 503 with `Retry-After`, so that clients retry instead of reporting a
crash; a 500 is left to mean a bug.

An outage is: the server refused or dropped the connection, was shutting down, starting up or
recovering (SQLSTATE class 08, 57P01-57P03), had no connection slot left (53300), or did not
answer in time (the pool's checkout timeout, a socket timeout). Other operating-system errors
(a missing file, a permission) stay bugs."""

from __future__ import annotations

import errno
import socket

import asyncpg
import redis.exceptions
import sqlalchemy.exc

RETRY_AFTER_SECONDS = 5  # a PostgreSQL restart or a Redis failover takes a few seconds

_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ENETUNREACH,
        errno.ENETDOWN,
    }
)
_ALWAYS = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,  # also asyncio's
    socket.gaierror,  # the host name does not resolve (DNS down)
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):  # e.g. Litestar's, from dependency clean-up
        return all(is_outage(inner) for inner in exc.exceptions)
    if isinstance(exc, _ALWAYS):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        # SQLAlchemy recognised a lost connection, or the driver's error carries a state
        return exc.connection_invalidated or _unavailable_state(getattr(exc.orig, "sqlstate", None))
    if isinstance(exc, asyncpg.PostgresError):
        return _unavailable_state(exc.sqlstate)
    if isinstance(exc, asyncpg.InterfaceError):
        # asyncpg's word for a connection it already knows is gone; its other interface
        # errors are misuse (a bug)
        return "connection is closed" in str(exc)
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


def _unavailable_state(sqlstate: object) -> bool:
    return isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_STATES)
