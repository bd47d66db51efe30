"""A private Redis server for tests that freeze, kill or restart it, so they never touch the
shared one on 6379: a `redis-server` subprocess on a free port, no persistence."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.pg_server import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def available() -> bool:
    return Path(REDIS_SERVER).exists()


class RedisServer:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def freeze(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, but nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL (works on a frozen server too); every message it held is lost."""
        if self._process is not None:
            self._signal(signal.SIGKILL)
            self._process.wait(timeout=10)
            self._process = None

    def _signal(self, sig: signal.Signals) -> None:
        assert self._process is not None, "not running"
        os.kill(self._process.pid, sig)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running private server, killed and deleted afterwards."""
    server = RedisServer(Path(tempfile.mkdtemp(prefix="keel-redis-")), free_port())
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(server.root, ignore_errors=True)
