"""A private PostgreSQL server for tests that stop, restart or crash it, so they never touch
the shared server on 5432: Debian's binaries, a fresh cluster in a temporary directory, trust
authentication, a free port on 127.0.0.1. PostgreSQL refuses to run as root, so under root the
cluster belongs to (and runs as) the `postgres` user."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path(os.environ.get("KEEL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
_SERVER_USER = "postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def available() -> bool:
    return (PG_BIN / "pg_ctl").exists() and (os.geteuid() != 0 or _has_user(_SERVER_USER))


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PgServer:
    """One cluster on one port; `url` is its `postgres` database."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(PG_BIN / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", _SERVER_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast", *, wait: bool = True) -> None:
        """`smart` without `wait` only begins the shutdown: sessions already open go on, new
        connections are refused with 57P03 until the last one ends and the server stops."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w" if wait else "-W", "stop")

    def restart(self, mode: str = "immediate") -> None:
        """`immediate` kills every backend without a clean shutdown, as a crash would; the
        server then recovers from its WAL before it accepts connections again. (Not `pg_ctl
        restart`: it forgets `-l`, and the new server would write to our pipe.)"""
        self.stop(mode)
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def pg_server() -> Iterator[PgServer]:
    """A running private server, stopped and deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix="keel-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, _SERVER_USER, _SERVER_USER)
    server = PgServer(root, free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):  # never started, or already down
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
