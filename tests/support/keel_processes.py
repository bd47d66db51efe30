"""Real `keel` processes for end-to-end tests: each writes to its own log file, whose tail goes
into failure messages, and each is stopped whatever happens (SIGTERM, then SIGKILL after a
timeout)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import httpx
import psutil  # type: ignore[import-untyped]

from tests.support.pg_server import free_port

KEEL = str(Path(sys.executable).with_name("keel"))
_KEEL_SETTINGS = ("DATABASE_URL", "REDIS_URL")


def keel_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any Keel setting of the developer's, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in _KEEL_SETTINGS and not k.startswith("KEEL_")}
    env.update(settings)
    return env


class Process:
    """One child process whose stdout and stderr go to `log`."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(args, env=dict(env), stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    async def wait_ready(self, deadline: float) -> None:
        """Wait until the process serves; fail once `time.monotonic()` passes `deadline`."""
        raise NotImplementedError

    def ports_connected_to(self, port: int) -> set[int]:
        """The local ports of this process's TCP connections to `port`."""
        connections = psutil.Process(self.pid).net_connections("tcp")
        return {c.laddr.port for c in connections if c.raddr and c.raddr.port == port}

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait()

    def terminate(self) -> None:
        if self.running():
            self.popen.send_signal(signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> int:
        """The exit code, after SIGKILL if the process has not exited within `timeout` seconds."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
        self.terminate()
        return self.wait_or_kill(timeout)


class KeelServe(Process):
    """`keel serve` without its in-process worker, on a free port of 127.0.0.1."""

    def __init__(self, name: str, env: Mapping[str, str], log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        args = [KEEL, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        super().__init__(name, [*args, "--worker-threads", "0", "--no-migrate"], env, log)

    async def wait_ready(self, deadline: float) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:
            while True:
                assert self.running(), f"{self.name} exited early:\n{self.log_tail()}"
                try:
                    if (await client.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"{self.name} never answered /health:\n{self.log_tail()}"
                await asyncio.sleep(0.2)


class KeelWorker(Process):
    """`keel worker`, ready once it says so."""

    READY_LINE = "Keel worker running"

    def __init__(self, name: str, env: Mapping[str, str], log: Path, *, threads: int) -> None:
        super().__init__(name, [KEEL, "worker", "--threads", str(threads)], env, log)

    async def wait_ready(self, deadline: float) -> None:
        while self.READY_LINE not in self.log.read_text(errors="replace"):
            assert self.running(), f"{self.name} exited early:\n{self.log_tail()}"
            assert time.monotonic() < deadline, f"{self.name} never started:\n{self.log_tail()}"
            await asyncio.sleep(0.2)


P = TypeVar("P", bound=Process)


class ProcessGroup:
    """Processes stopped together: SIGTERM to all at once, then SIGKILL to any still running
    when the timeout is over."""

    def __init__(self) -> None:
        self.processes: list[Process] = []

    def add(self, process: P) -> P:
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} (pid {p.pid}) -----\n{p.log_tail()}" for p in self.processes)

    def stop_all(self, timeout: float = 10.0) -> None:
        for process in self.processes:
            process.terminate()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.wait_or_kill(max(0.1, deadline - time.monotonic()))
